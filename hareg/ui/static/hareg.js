// SPDX-FileCopyrightText: 2026 The hareg authors
// SPDX-License-Identifier: EUPL-1.2
//
// Copy buttons for pull commands. Every page works without this file: the commands are
// selectable text (CSS user-select: all), and the buttons stay hidden until it runs.
"use strict";
(function () {
  function selectText(element) {
    var range = document.createRange();
    range.selectNodeContents(element);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  function copied(button) {
    button.textContent = "Copied";
    button.classList.add("copied");
    window.setTimeout(function () {
      button.textContent = "Copy";
      button.classList.remove("copied");
    }, 2000);
  }

  function copy(button) {
    var target = document.getElementById(button.getAttribute("data-copy"));
    if (!target) { return; }
    var text = target.textContent;
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () { copied(button); },
        function () { selectText(target); });
      return;
    }
    // Plain HTTP (no async clipboard): select the text and ask for a copy.
    selectText(target);
    try {
      if (document.execCommand("copy")) { copied(button); }
    } catch (e) { /* the text stays selected for Ctrl+C */ }
  }

  document.addEventListener("DOMContentLoaded", function () {
    var buttons = document.querySelectorAll("button.copy[data-copy]");
    for (var i = 0; i < buttons.length; i++) {
      buttons[i].hidden = false;
      buttons[i].addEventListener("click", function (event) { copy(event.currentTarget); });
    }
  });
})();
