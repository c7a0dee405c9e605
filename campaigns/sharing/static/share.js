// Rally's share buttons (campaigns/sharing/buttons.py): copy the campaign's link, or open the phone's own share
// sheet. Served from this site (/assets/share.js): the pages' Content-Security-Policy runs no inline script.
// Streamlit inserts the buttons' HTML and then this script, each time the buttons are drawn: it sets up every
// box not set up yet, and shows the buttons only once they can work (without it, the link is there to copy).
(function () {
  "use strict";

  function say(box, text) {
    var status = box.querySelector("[data-rally-status]");
    if (!status) return;
    status.textContent = text;
    window.clearTimeout(Number(status.getAttribute("data-rally-timer")));
    status.setAttribute("data-rally-timer", String(window.setTimeout(function () { status.textContent = ""; }, 5000)));
  }

  function copyBySelecting(input) {
    input.focus();
    input.select();
    input.setSelectionRange(0, input.value.length);
    try {
      return document.execCommand("copy");
    } catch (e) {
      return false;
    }
  }

  function setUp(box) {
    if (box.hasAttribute("data-rally-ready")) return;
    box.setAttribute("data-rally-ready", "");
    var input = box.querySelector("input");
    var copy = box.querySelector("[data-rally-copy]");
    var share = box.querySelector("[data-rally-native]");
    if (copy && input) {
      copy.hidden = false;
      copy.addEventListener("click", function () {
        var url = copy.getAttribute("data-rally-copy") || input.value;
        var said = copy.getAttribute("data-rally-copied") || "Link copied. Paste it in a message, a post or an email.";
        var copied = function () { say(box, said); };
        var byHand = function () {
          input.value = url;
          if (copyBySelecting(input)) copied();
          else say(box, "Press and hold the link above to copy it.");
        };
        if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(url).then(copied, byHand);
        else byHand();
      });
    }
    if (share && typeof navigator.share === "function") {
      var title = share.getAttribute("data-rally-title") || "";
      var data = { title: title, text: title, url: share.getAttribute("data-rally-native") || "" };
      if (typeof navigator.canShare !== "function" || navigator.canShare(data)) {
        share.hidden = false;
        share.addEventListener("click", function () {
          navigator.share(data).catch(function () {}); // closing the sheet is not an error
        });
      }
    }
  }

  document.querySelectorAll("[data-rally-share]").forEach(setUp);
})();
