// The rating page (/rate, 好差评): someone just served at a window rates the service once,
// with the one-time ticket on their slip (#ticket= fragment, or typed) or, where the unit
// allows it, with the window's poster QR (#point=, counted apart as unverified). A bad review
// may leave a contact for a call back; with a ticket, its reply is read later (#reply).
// Plain JavaScript, no dependencies. The ticket lives only in this page's memory: it is
// taken out of the address bar at once and never written to storage, cookies or a query.
"use strict";

(function () {
  const TEXT = {
    zh: {
      title: "服务好差评",
      ticketHeading: "输入评价码",
      ticketLabel: "评价码（12位，见服务凭条）",
      ticketHelp: "不区分大小写，可以不输横线。也可以直接扫描凭条上的二维码。",
      next: "下一步",
      replyLink: "查看差评处理回复",
      rateHeading: "请您对本次服务进行评价",
      unverified: "您没有使用评价码，本次评价将单独统计。",
      levelsLegend: "总体评价（必选）",
      levelsHelp: "请选择一项。",
      itemsSummary: "分项评价（选填）",
      itemsClear: "清除分项评价",
      commentLabel: "意见建议（选填）",
      contactLabel: "联系电话（选填）",
      submit: "提交评价",
      thanksHeading: "感谢您的评价！",
      thanksTicket: "请记下您的评价码（只显示这一次）：",
      replyHeading: "查看差评处理回复",
      replyHelp: "留下联系电话的差评，可以凭评价码查看处理进展和回复。",
      query: "查询",
      rateLink: "返回评价",
      privacy: "评价不记录您的身份：评价码不关联办事人员，评价只记日期、不记时间。联系电话只用于回访。",
      where: "{point} · {org}",
      chars: "{n} / {max} 字",
      loading: "正在读取评价表……",
      sending: "正在提交……",
      querying: "正在查询……",
      contactHelp: "留下电话，工作人员将在一个工作日内与您联系。",
      contactHelpReply: "留下电话，工作人员将在一个工作日内与您联系；处理回复也可以凭评价码在本页查看。",
      thanksGood: "您的评价已经收到，我们会继续做好服务。",
      thanksCase: "您的意见已经转交有关单位核实处理。",
      thanksCall: "工作人员将在一个工作日内与您电话联系。",
      thanksReply: "日后打开 {link} 并输入评价码，即可查看处理进展和回复。",
      noLevel: "请先选择一项总体评价。",
      badTicket: "评价码应为12位字母或数字，例如 7KQ2-M9XD-4TNB，请核对。",
      invalidTicket: "评价码无效，请核对凭条上的评价码后重新输入。",
      ticketUsed: "这个评价码已经评价过了，每个评价码只能评价一次。谢谢您！",
      ticketExpired: "这个评价码已过期，不能再评价。",
      invalidPoint: "二维码无效，请扫描服务窗口张贴的评价二维码，或输入凭条上的评价码。",
      pointClosed: "这个服务窗口现在不接受扫码评价，请输入凭条上的评价码。",
      tooMany: "尝试次数过多，请 {seconds} 秒后再试。",
      tooManySoon: "尝试次数过多，请稍后再试。",
      invalidRating: "评价内容有误，请检查后重新提交。",
      network: "网络连接失败，您填写的内容没有丢失，仍保留在本页。请检查网络后点击“重试”。",
      retry: "重试",
      server: "服务暂时不可用，您填写的内容仍保留在本页，请稍后点击“重试”。",
      noReply: "没有找到这个评价码的处理记录。只有留下联系电话的差评才能查看回复，请核对评价码。",
      status: "处理状态",
      openedOn: "受理日期",
      followUp: "电话回访",
      followedUp: "已回访",
      followUpDue: "尚未回访（{date} 前）",
      resolveDue: "办结期限",
      resolvedOn: "办结日期",
      measures: "整改措施",
      reply: "答复",
      noReplyYet: "尚未答复，请在办结期限后再来查看。",
      awaiting_follow_up: "待回访",
      in_handling: "处理中",
      resolved: "已办结",
      appealed: "被评单位已提出申诉，正在审核",
      upheld: "经审核，申诉成立，本次评价不计入",
    },
    en: {
      title: "Rate our service",
      ticketHeading: "Enter your ticket code",
      ticketLabel: "Ticket code (12 characters, on your service slip)",
      ticketHelp: "Upper or lower case; the dashes are optional. You can also scan the QR code on the slip.",
      next: "Next",
      replyLink: "Read the reply to a bad review",
      rateHeading: "Please rate the service you received",
      unverified: "You are rating without a ticket: this rating is counted separately.",
      levelsLegend: "Overall rating (required)",
      levelsHelp: "Choose one.",
      itemsSummary: "Rate in detail (optional)",
      itemsClear: "Clear the detailed ratings",
      commentLabel: "Comments and suggestions (optional)",
      contactLabel: "Phone number (optional)",
      submit: "Submit rating",
      thanksHeading: "Thank you for your rating!",
      thanksTicket: "Please note your ticket code (shown only this once):",
      replyHeading: "Read the reply to a bad review",
      replyHelp: "If you left a phone number with a bad review, your ticket code shows how it is being handled and the reply.",
      query: "Look up",
      rateLink: "Back to rating",
      privacy: "Your identity is not recorded: the ticket is not linked to the staff member, and only the day of the rating is kept. A phone number is used only to call you back.",
      where: "{point} · {org}",
      chars: "{n} / {max} characters",
      loading: "Loading the rating form…",
      sending: "Submitting…",
      querying: "Looking up…",
      contactHelp: "Leave a number and someone will call you back within one working day.",
      contactHelpReply: "Leave a number and someone will call you back within one working day; you can also read the reply on this page with your ticket code.",
      thanksGood: "Your rating has been received. We will keep up the good work.",
      thanksCase: "Your concern has been passed on to be looked into.",
      thanksCall: "Someone will call you back within one working day.",
      thanksReply: "Later, open {link} and enter your ticket code to see how it is handled and read the reply.",
      noLevel: "Please choose an overall rating first.",
      badTicket: "A ticket code has 12 letters or digits, e.g. 7KQ2-M9XD-4TNB. Please check it.",
      invalidTicket: "This ticket code is not valid. Please check the code on your slip and type it again.",
      ticketUsed: "This ticket has been used already. Each ticket rates once. Thank you!",
      ticketExpired: "This ticket has expired and can no longer be used.",
      invalidPoint: "This QR code is not valid. Please scan the rating QR code at the service window, or enter the code on your slip.",
      pointClosed: "This window is not taking ratings by QR code now. Please enter the code on your slip.",
      tooMany: "Too many attempts. Please try again in {seconds} seconds.",
      tooManySoon: "Too many attempts. Please try again shortly.",
      invalidRating: "Something in the rating is not right. Please check it and submit again.",
      network: "No connection. What you filled in is not lost: it stays on this page. Check the network and press “Retry”.",
      retry: "Retry",
      server: "The service is unavailable right now. What you filled in stays on this page; press “Retry” in a moment.",
      noReply: "Nothing was found for this ticket code. Only a bad review that left a phone number has a reply. Please check the code.",
      status: "Status",
      openedOn: "Received on",
      followUp: "Call back",
      followedUp: "Done",
      followUpDue: "Not yet (due by {date})",
      resolveDue: "To be resolved by",
      resolvedOn: "Resolved on",
      measures: "Measures taken",
      reply: "Reply",
      noReplyYet: "No reply yet. Please look again after the resolution date.",
      awaiting_follow_up: "Awaiting a call back",
      in_handling: "Being handled",
      resolved: "Resolved",
      appealed: "The unit has appealed; the appeal is under review",
      upheld: "The appeal was upheld; this rating does not count",
    },
  };
  // The two levels that open a case, and so may leave a contact.
  const BAD = ["dissatisfied", "very_dissatisfied"];

  const langs = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language || "zh"];
  const lang = /^en\b/i.test(langs[0] || "") ? "en" : "zh";
  const zh = lang === "zh";
  document.documentElement.lang = zh ? "zh-CN" : "en";

  function t(key, vars) {
    let s = TEXT[lang][key];
    for (const [name, value] of Object.entries(vars || {})) {
      s = s.split("{" + name + "}").join(String(value));
    }
    return s;
  }

  const $ = (id) => document.getElementById(id);
  const steps = ["step-ticket", "step-rate", "step-thanks", "step-reply"];
  // Exactly one of `ticket` and `point` while a rating is under way.
  const state = { ticket: null, point: null, form: null };

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (name === "text") node.textContent = value;
      else node.setAttribute(name, value);
    }
    for (const child of children || []) node.appendChild(child);
    return node;
  }

  // Every step starts at the top, where the header names the window being rated.
  function show(step) {
    for (const id of steps) $(id).hidden = id !== step;
    $("main").focus({ preventScroll: true });
    window.scrollTo(0, 0);
  }

  function busy(key) {
    $("busy").textContent = key ? t(key) : "";
  }

  function alertBox(message, retry) {
    const box = $("alert");
    box.textContent = "";
    box.hidden = !message;
    if (!message) return;
    box.appendChild(el("p", { text: message }));
    if (retry) {
      const button = el("button", { type: "button", text: t("retry") });
      button.addEventListener("click", () => {
        alertBox(null);
        retry();
      });
      box.appendChild(button);
    }
  }

  // Crockford base32 as the server reads it: case-insensitive, I/L are 1, O is 0.
  function canonical(typed) {
    const chars = typed.toUpperCase().replace(/[\s-]/g, "").replace(/[IL]/g, "1").replace(/O/g, "0");
    if (!/^[0-9A-HJKMNP-TV-Z]{12}$/.test(chars)) return null;
    return chars.slice(0, 4) + "-" + chars.slice(4, 8) + "-" + chars.slice(8);
  }

  // The browser sends its own Accept-Language; the page words every problem itself.
  async function call(path, body) {
    let response;
    try {
      response = await fetch(path, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
        cache: "no-store",
        credentials: "omit",
        referrerPolicy: "no-referrer",
      });
    } catch (e) {
      return { network: true };
    }
    let data = null;
    try {
      data = await response.json();
    } catch (e) {
      data = null;
    }
    return { status: response.status, data, retryAfter: response.headers.get("Retry-After") };
  }

  // Trouble that is worth a retry with the same ticket and the same answers.
  function transient(answer) {
    return answer.network || answer.status >= 500 || answer.status === 429;
  }

  // Every way a call can fail, in words the rater understands.
  function explain(answer) {
    if (answer.network) return t("network");
    const code = answer.data && answer.data.code;
    if (answer.status === 429 || code === "rate_limited") {
      const seconds = parseInt(answer.retryAfter || "", 10);
      return seconds > 0 ? t("tooMany", { seconds }) : t("tooManySoon");
    }
    if (code === "invalid_ticket") return t("invalidTicket");
    if (code === "ticket_used") return t("ticketUsed");
    if (code === "ticket_expired") return t("ticketExpired");
    if (code === "invalid_point") return t("invalidPoint");
    if (code === "point_closed") return t("pointClosed");
    if (code === "validation_failed") return t("invalidRating");
    return t("server");
  }

  // ---- The ticket ----

  function askForTicket(message) {
    state.ticket = null;
    state.point = null;
    state.form = null;
    $("where").textContent = "";
    show("step-ticket");
    alertBox(message || null);
    $("ticket-input").focus();
  }

  $("ticket-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = $("ticket-input");
    const ticket = canonical(input.value);
    if (!ticket) {
      alertBox(t("badTicket"));
      input.setAttribute("aria-invalid", "true");
      return;
    }
    input.removeAttribute("aria-invalid");
    input.value = "";
    state.ticket = ticket;
    state.point = null;
    loadForm();
  });

  // What proves the right to rate: the ticket, or the point key of the open QR.
  function credential() {
    return state.ticket ? { ticket: state.ticket } : { point: state.point };
  }

  async function loadForm() {
    alertBox(null);
    busy("loading");
    const answer = await call("/api/v1/instant-rating-forms", credential());
    busy(null);
    // Trouble on the way (no network, the server, too many tries): the ticket is kept and
    // the rater retries when ready.
    if (transient(answer)) {
      show("step-ticket");
      alertBox(explain(answer), loadForm);
      return;
    }
    if (answer.status !== 200) {
      askForTicket(explain(answer));
      return;
    }
    const form = answer.data;
    state.form = form;
    $("where").textContent = t("where", { point: form.point.name, org: form.point.org_name });
    $("unverified").hidden = form.verified;
    renderForm(form);
    show("step-rate");
  }

  // ---- The rating ----

  function levelLabel(level) {
    return zh ? level.label : level.label_en;
  }

  function renderForm(form) {
    $("rate-form").reset();
    const levels = $("level-choices");
    levels.textContent = "";
    for (const level of form.levels) {
      const id = "level-" + level.level;
      const input = el("input", { type: "radio", name: "level", id, value: level.level, required: "" });
      levels.appendChild(el("label", { class: "choice rate-level", for: id }, [input, el("span", { text: levelLabel(level) })]));
    }
    const items = $("items");
    items.textContent = "";
    for (const criterion of form.criteria) {
      const choices = el("div", { class: "choices" });
      for (const level of form.levels) {
        const input = el("input", { type: "radio", name: "item-" + criterion.id, value: level.level });
        choices.appendChild(el("label", { class: "choice" }, [input, el("span", { text: levelLabel(level) })]));
      }
      const name = zh ? criterion.name : criterion.name_en;
      items.appendChild(el("fieldset", { class: "criterion" }, [el("legend", { text: name }), choices]));
    }
    $("contact-help").textContent = form.verified ? t("contactHelpReply") : t("contactHelp");
    toggleContact();
    countComment();
  }

  function chosenLevel() {
    const chosen = document.querySelector('input[name="level"]:checked');
    return chosen ? chosen.value : null;
  }

  // The contact is asked for, and sent, only with a bad review.
  function toggleContact() {
    $("contact-box").hidden = !BAD.includes(chosenLevel());
  }
  $("levels").addEventListener("change", toggleContact);

  $("items-clear").addEventListener("click", () => {
    for (const input of $("items").querySelectorAll("input[type=radio]")) input.checked = false;
  });

  function items() {
    const out = [];
    for (const criterion of state.form.criteria) {
      const chosen = document.querySelector('input[name="item-' + criterion.id + '"]:checked');
      if (chosen) out.push({ criterion_id: criterion.id, level: chosen.value });
    }
    return out;
  }

  function countComment() {
    const n = [...$("comment").value].length;
    $("comment-count").textContent = t("chars", { n, max: 500 });
  }
  $("comment").addEventListener("input", countComment);

  $("rate-form").addEventListener("submit", (event) => {
    event.preventDefault();
    if (!chosenLevel()) {
      alertBox(t("noLevel"));
      $("levels").querySelector("input").focus();
      return;
    }
    submitRating();
  });

  async function submitRating() {
    const button = $("rate-submit");
    button.disabled = true;
    busy("sending");
    alertBox(null);
    const level = chosenLevel();
    const comment = $("comment").value.trim();
    const contact = BAD.includes(level) ? $("contact").value.trim() : "";
    const body = Object.assign(credential(), { level });
    const rated = items();
    if (rated.length) body.items = rated;
    if (comment) body.comment = comment;
    if (contact) body.contact = contact;
    const answer = await call("/api/v1/instant-ratings", body);
    busy(null);
    button.disabled = false;
    if (answer.status === 201) {
      thank(answer.data, state.ticket);
      return;
    }
    // The filled form stays in memory: network and server trouble can be retried.
    if (transient(answer)) {
      alertBox(explain(answer), submitRating);
      return;
    }
    // Answers that cannot be fixed here (the ticket used meanwhile, expired, the window
    // closed): back to the ticket. Anything else is about the form itself.
    if (answer.status === 422) {
      alertBox(explain(answer));
      return;
    }
    askForTicket(explain(answer));
  }

  function thank(result, ticket) {
    let text = t("thanksGood");
    if (result.case_opened) text = t("thanksCase") + ($("contact").value.trim() ? t("thanksCall") : "");
    $("thanks-text").textContent = text;
    // The ticket is shown this once, only when it can read a reply later.
    const reply = Boolean(result.reply_available && ticket);
    $("thanks-reply").hidden = !reply;
    $("thanks-ticket").textContent = reply ? ticket : "";
    $("thanks-help").textContent = reply ? t("thanksReply", { link: location.origin + "/rate#reply" }) : "";
    state.ticket = null;
    state.point = null;
    state.form = null;
    $("rate-form").reset();
    $("level-choices").textContent = "";
    $("items").textContent = "";
    $("contact-box").hidden = true;
    countComment();
    show("step-thanks");
  }

  // ---- Reading the reply to a bad review ----

  function openReply() {
    $("where").textContent = "";
    $("reply-result").textContent = "";
    alertBox(null);
    show("step-reply");
    $("reply-ticket").focus();
  }

  $("reply-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = $("reply-ticket");
    const ticket = canonical(input.value);
    if (!ticket) {
      alertBox(t("badTicket"));
      input.setAttribute("aria-invalid", "true");
      return;
    }
    input.removeAttribute("aria-invalid");
    readReply(ticket);
  });

  async function readReply(ticket) {
    const result = $("reply-result");
    alertBox(null);
    result.textContent = t("querying");
    const answer = await call("/api/v1/instant-replies", { ticket });
    result.textContent = "";
    if (answer.status === 200) {
      renderReply(answer.data);
      return;
    }
    if (answer.status === 404) {
      alertBox(t("noReply"));
      return;
    }
    alertBox(explain(answer), transient(answer) ? () => readReply(ticket) : null);
  }

  function renderReply(found) {
    const rows = [
      ["status", TEXT[lang][found.status] ? t(found.status) : found.status],
      ["openedOn", found.opened_on],
      ["followUp", found.followed_up ? t("followedUp") : t("followUpDue", { date: found.follow_up_due_on || "" })],
    ];
    if (found.resolved_on) rows.push(["resolvedOn", found.resolved_on]);
    else if (found.resolve_due_on) rows.push(["resolveDue", found.resolve_due_on]);
    if (found.measures) rows.push(["measures", found.measures]);
    rows.push(["reply", found.reply || t("noReplyYet")]);
    const list = el("dl");
    for (const [key, value] of rows) {
      list.appendChild(el("dt", { text: t(key) }));
      list.appendChild(el("dd", { text: value }));
    }
    $("reply-result").appendChild(list);
  }

  // ---- Start ----

  for (const node of document.querySelectorAll("[data-t]")) node.textContent = t(node.dataset.t);
  document.title = t("title");
  countComment();

  function route() {
    const hash = location.hash;
    if (hash === "#reply") {
      openReply();
      return;
    }
    const ticket = hash.match(/^#ticket=([0-9A-Za-z-]{12,20})$/);
    const point = hash.match(/^#point=([0-9A-Za-z_-]{1,200})$/);
    // The ticket leaves the address bar at once: not in history, not on screen.
    if (hash) history.replaceState(null, "", location.pathname);
    if (ticket) {
      const code = canonical(ticket[1]);
      if (!code) {
        askForTicket(t("badTicket"));
        return;
      }
      state.ticket = code;
      state.point = null;
      loadForm();
      return;
    }
    if (point) {
      state.ticket = null;
      state.point = point[1];
      loadForm();
      return;
    }
    // A fragment that is neither: a slip's link or a poster's QR cut short when copied.
    if (hash.startsWith("#ticket")) askForTicket(t("badTicket"));
    else if (hash.startsWith("#point")) askForTicket(t("invalidPoint"));
    else askForTicket();
  }
  $("to-reply").addEventListener("click", (event) => {
    event.preventDefault();
    openReply();
  });
  $("to-ticket").addEventListener("click", (event) => {
    event.preventDefault();
    askForTicket();
  });
  window.addEventListener("hashchange", route);
  route();
})();
