// The voter's page: a code (from the link's #code= fragment or typed), the ballot form,
// a confirmation, the ballot, the receipt; and, after the meeting, checking a receipt.
// Plain JavaScript, no dependencies. The code lives only in this page's memory: it is
// taken out of the address bar at once and never written to storage, cookies or a query.
"use strict";

(function () {
  const TEXT = {
    zh: {
      title: "群众评议",
      codeHeading: "输入评议码",
      codeLabel: "评议码（12位，见评议卡）",
      codeHelp: "不区分大小写，可以不输横线。",
      next: "下一步",
      checkLink: "查询我的回执",
      ballotHeading: "请对以下对象进行评议",
      ballotHelp: "每项选一个等级；不了解的可以不选（弃权）。",
      opinionLabel: "意见建议（选填）",
      review: "检查并提交",
      confirmHeading: "请确认您的评议",
      back: "返回修改",
      submit: "确认提交",
      receiptHeading: "投票成功，谢谢您！",
      receiptIntro: "这是您的回执码，请记下或拍照保存：",
      checkHeading: "查询我的回执",
      checkHelp: "评议会结束后，输入会议编号和回执码，即可确认您的选票已被计入。",
      sessionLabel: "会议编号",
      receiptLabel: "回执码",
      check: "查询",
      voteLink: "返回投票",
      secrecy: "评议不记名：评议码与选票之间没有任何联系，任何人都无法知道您如何评议。",
      org: "本组织",
      secretary: "书记",
      member: "党员",
      sameAll: "本对象全部评为“{level}”",
      clear: "清除（弃权）",
      chars: "{n} / {max} 字",
      loading: "正在读取选票……",
      sending: "正在提交……",
      checking: "正在查询……",
      where: "{title} · {org} · {category}",
      rated: "{name}：已评 {done} / {all} 项",
      abstained: "{name}：弃权",
      opinionGiven: "意见建议：{n} 字",
      noOpinion: "意见建议：无",
      nothingRated: "请至少评议一项后再提交。",
      receiptHelp: "会议编号 {session}。评议会结束后，打开本页“查询我的回执”（{link}），输入会议编号和回执码，就能确认您的选票已被计入。回执码不显示您的评议内容。",
      badCode: "评议码应为12位字母或数字，例如 7KQ2-M9XD-4TNB，请核对。",
      invalidCode: "评议码无效，请核对评议卡上的评议码后重新输入。",
      codeUsed: "这个评议码已经使用过了。每个评议码只能投票一次。",
      notOpenYet: "评议会尚未开始投票，请在会议主持人宣布开始后再打开本页。",
      closed: "评议会已经结束，不能再投票。",
      notOpen: "评议会现在不接受投票（尚未开始或已经结束）。",
      tooMany: "尝试次数过多，请 {seconds} 秒后再试。",
      tooManySoon: "尝试次数过多，请稍后再试。",
      invalidBallot: "选票内容有误，请返回检查后重新提交。",
      network: "网络连接失败，您的选票没有丢失，仍保留在本页。请检查网络后点击“重试”。",
      retry: "重试",
      server: "服务暂时不可用，您的选票仍保留在本页，请稍后点击“重试”。",
      badReceipt: "请输入会议编号（数字）和回执码。",
      counted: "已计入：您的回执码在本次评议会的 {n} 张选票回执之中。",
      notCounted: "没有找到这个回执码，请核对会议编号和回执码。",
      notClosed: "评议会尚未结束，结束后才能查询回执。",
      noSession: "没有这个会议编号，请核对。",
    },
    en: {
      title: "Mass evaluation",
      codeHeading: "Enter your voting code",
      codeLabel: "Voting code (12 characters, on your card)",
      codeHelp: "Upper or lower case; the dashes are optional.",
      next: "Next",
      checkLink: "Check my receipt",
      ballotHeading: "Please rate each of the following",
      ballotHelp: "Choose one level per item; leave out what you cannot judge (abstain).",
      opinionLabel: "Opinions and suggestions (optional)",
      review: "Review and submit",
      confirmHeading: "Please confirm your ballot",
      back: "Go back",
      submit: "Submit",
      receiptHeading: "Your ballot is cast. Thank you!",
      receiptIntro: "This is your receipt; write it down or take a photo:",
      checkHeading: "Check my receipt",
      checkHelp: "After the meeting, enter the meeting number and your receipt to confirm that your ballot was counted.",
      sessionLabel: "Meeting number",
      receiptLabel: "Receipt",
      check: "Check",
      voteLink: "Back to voting",
      secrecy: "Voting is anonymous: nothing links your code to your ballot, and nobody can tell how you voted.",
      org: "the organization",
      secretary: "secretary",
      member: "member",
      sameAll: "Rate all of this “{level}”",
      clear: "Clear (abstain)",
      chars: "{n} / {max} characters",
      loading: "Loading the ballot…",
      sending: "Submitting…",
      checking: "Checking…",
      where: "{title} · {org} · {category}",
      rated: "{name}: {done} of {all} rated",
      abstained: "{name}: abstained",
      opinionGiven: "Opinion: {n} characters",
      noOpinion: "Opinion: none",
      nothingRated: "Rate at least one item before submitting.",
      receiptHelp: "Meeting number {session}. After the meeting, open “Check my receipt” on this page ({link}) and enter the meeting number and your receipt to confirm that your ballot was counted. The receipt does not show how you voted.",
      badCode: "A voting code has 12 letters or digits, e.g. 7KQ2-M9XD-4TNB. Please check it.",
      invalidCode: "This voting code is not valid. Please check the code on your card and type it again.",
      codeUsed: "This voting code has been used already. Each code votes once.",
      notOpenYet: "Voting has not started yet. Open this page again when the chair opens the vote.",
      closed: "The meeting has closed; voting is over.",
      notOpen: "The meeting is not taking ballots now (not started yet, or closed).",
      tooMany: "Too many attempts. Please try again in {seconds} seconds.",
      tooManySoon: "Too many attempts. Please try again shortly.",
      invalidBallot: "Something in the ballot is not right. Please go back, check and submit again.",
      network: "No connection. Your ballot is not lost: it stays on this page. Check the network and press “Retry”.",
      retry: "Retry",
      server: "The service is unavailable right now. Your ballot stays on this page; press “Retry” in a moment.",
      badReceipt: "Enter the meeting number (digits) and your receipt.",
      counted: "Counted: your receipt is among the {n} ballot receipts of this meeting.",
      notCounted: "This receipt was not found. Please check the meeting number and the receipt.",
      notClosed: "The meeting has not closed yet; receipts can be checked after it closes.",
      noSession: "There is no meeting with this number. Please check it.",
    },
  };
  const CATEGORIES = {
    party_member: ["党员", "Party member"],
    mass_representative: ["群众代表", "mass representative"],
    deputy: ["两代表一委员", "deputy"],
    non_party_investor: ["非党出资人/负责人", "non-Party investor"],
    service_recipient: ["服务对象", "service recipient"],
    subordinate_leader: ["下属单位负责人", "subordinate unit leader"],
    other: ["其他", "other"],
  };

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
  const steps = ["step-code", "step-ballot", "step-confirm", "step-receipt", "step-check"];
  const state = { code: null, form: null, opinion: "" };

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (name === "text") node.textContent = value;
      else node.setAttribute(name, value);
    }
    for (const child of children || []) node.appendChild(child);
    return node;
  }

  function show(step) {
    for (const id of steps) $(id).hidden = id !== step;
    $("main").focus();
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

  async function call(method, path, body) {
    let response;
    try {
      response = await fetch(path, {
        method,
        headers: Object.assign({ "Accept-Language": zh ? "zh-CN" : "en" }, body ? { "Content-Type": "application/json" } : {}),
        body: body ? JSON.stringify(body) : undefined,
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

  // Every way a call can fail, in words a voter understands.
  function explain(answer) {
    if (answer.network) return t("network");
    const code = answer.data && answer.data.code;
    if (answer.status === 429) {
      const seconds = parseInt(answer.retryAfter || "", 10);
      return seconds > 0 ? t("tooMany", { seconds }) : t("tooManySoon");
    }
    if (code === "invalid_code") return t("invalidCode");
    if (code === "code_used") return t("codeUsed");
    if (code === "session_not_open") return t("notOpen");
    if (code === "validation_failed") return t("invalidBallot");
    return t("server");
  }

  // ---- The code ----

  function askForCode(message) {
    show("step-code");
    alertBox(message || null);
    $("code-input").focus();
  }

  $("code-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const code = canonical($("code-input").value);
    if (!code) {
      alertBox(t("badCode"));
      $("code-input").setAttribute("aria-invalid", "true");
      return;
    }
    $("code-input").removeAttribute("aria-invalid");
    $("code-input").value = "";
    state.code = code;
    loadForm();
  });

  async function loadForm() {
    alertBox(null);
    busy("loading");
    const answer = await call("POST", "/api/v1/ballot-forms", { code: state.code });
    busy(null);
    // Trouble on the way (no network, the server, too many tries): the code is kept and
    // the voter retries when ready.
    if (answer.network || answer.status >= 500 || answer.status === 429) {
      show("step-code");
      alertBox(explain(answer), loadForm);
      return;
    }
    if (answer.status !== 200) {
      state.code = null;
      askForCode(explain(answer));
      return;
    }
    const form = answer.data;
    state.form = form;
    const category = CATEGORIES[form.category] || [form.category, form.category];
    $("where").textContent = t("where", {
      title: form.session.title,
      org: form.session.org_name,
      category: zh ? category[0] : category[1],
    });
    if (form.session.status !== "open") {
      state.code = null;
      show("step-code");
      alertBox(form.session.status === "closed" ? t("closed") : t("notOpenYet"));
      return;
    }
    renderBallot(form);
    show("step-ballot");
  }

  // ---- The ballot ----

  function levelLabel(level) {
    return zh ? level.label_zh : level.label_en;
  }

  function renderBallot(form) {
    const holder = $("subjects");
    holder.textContent = "";
    form.subjects.forEach((subject, s) => {
      const criteria = form.criteria[subject.subject_type] || [];
      const legend = el("legend", {}, [
        document.createTextNode(subject.name),
        el("span", { class: "kind", text: t(subject.subject_type) }),
      ]);
      const same = el("div", { class: "same" });
      for (const level of form.scale) {
        const button = el("button", { type: "button", text: t("sameAll", { level: levelLabel(level) }) });
        button.addEventListener("click", () => setSubject(s, level.level));
        same.appendChild(button);
      }
      const clear = el("button", { type: "button", text: t("clear") });
      clear.addEventListener("click", () => setSubject(s, null));
      same.appendChild(clear);
      const fieldset = el("fieldset", { class: "subject", id: "subject-" + s }, [legend, same]);
      criteria.forEach((criterion, c) => {
        const choices = el("div", { class: "choices" });
        for (const level of form.scale) {
          const input = el("input", { type: "radio", name: "s" + s + "c" + c, value: level.level });
          choices.appendChild(el("label", { class: "choice" }, [input, el("span", { text: levelLabel(level) })]));
        }
        const label = zh ? criterion.label_zh : criterion.label_en;
        fieldset.appendChild(el("fieldset", { class: "criterion" }, [el("legend", { text: label }), choices]));
      });
      holder.appendChild(fieldset);
    });
  }

  function setSubject(s, level) {
    for (const input of $("subject-" + s).querySelectorAll("input[type=radio]")) {
      input.checked = level !== null && input.value === level;
    }
  }

  function ratings() {
    const out = [];
    const form = state.form;
    form.subjects.forEach((subject, s) => {
      (form.criteria[subject.subject_type] || []).forEach((criterion, c) => {
        const chosen = document.querySelector('input[name="s' + s + "c" + c + '"]:checked');
        if (chosen) out.push({ subject_id: subject.id, criterion_id: criterion.id, level: chosen.value });
      });
    });
    return out;
  }

  function countOpinion() {
    const n = [...$("opinion").value].length;
    $("opinion-count").textContent = t("chars", { n, max: 2000 });
  }
  $("opinion").addEventListener("input", countOpinion);

  $("ballot-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const chosen = ratings();
    if (chosen.length === 0) {
      alertBox(t("nothingRated"));
      return;
    }
    alertBox(null);
    const summary = $("summary");
    summary.textContent = "";
    const form = state.form;
    for (const subject of form.subjects) {
      const all = (form.criteria[subject.subject_type] || []).length;
      const done = chosen.filter((r) => r.subject_id === subject.id).length;
      const line = done === 0 ? t("abstained", { name: subject.name }) : t("rated", { name: subject.name, done, all });
      summary.appendChild(el("li", { text: line }));
    }
    const opinion = $("opinion").value.trim();
    $("summary-opinion").textContent = opinion ? t("opinionGiven", { n: [...opinion].length }) : t("noOpinion");
    show("step-confirm");
  });

  $("back").addEventListener("click", () => show("step-ballot"));
  $("submit").addEventListener("click", submitBallot);

  async function submitBallot() {
    const button = $("submit");
    button.disabled = true;
    busy("sending");
    alertBox(null);
    const opinion = $("opinion").value.trim();
    const answer = await call("POST", "/api/v1/ballots", {
      code: state.code,
      ratings: ratings(),
      opinion: opinion || null,
    });
    busy(null);
    button.disabled = false;
    if (answer.status === 201) {
      const session = state.form.session.id;
      state.code = null;
      state.form = null;
      $("receipt").textContent = answer.data.receipt;
      $("receipt-help").textContent = t("receiptHelp", { session, link: location.origin + "/vote#check=" + session });
      $("ballot-form").reset();
      show("step-receipt");
      return;
    }
    // The filled ballot stays in memory: network and server trouble can be retried.
    const retry = answer.network || answer.status >= 500 || answer.status === 429;
    alertBox(explain(answer), retry ? submitBallot : null);
    if (answer.status === 422) show("step-ballot");
  }

  // ---- Checking a receipt ----

  function openCheck(session) {
    $("check-session").value = session || "";
    $("check-result").textContent = "";
    alertBox(null);
    show("step-check");
  }

  $("check-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const session = $("check-session").value.trim();
    const receipt = $("check-receipt").value.trim().toUpperCase();
    const result = $("check-result");
    if (!/^\d{1,18}$/.test(session) || receipt.length < 4) {
      result.textContent = t("badReceipt");
      return;
    }
    result.textContent = t("checking");
    const answer = await call("GET", "/api/v1/sessions/" + session + "/receipts");
    if (answer.status === 200) {
      const list = answer.data.receipts;
      result.textContent = list.includes(receipt) ? t("counted", { n: list.length }) : t("notCounted");
    } else if (answer.data && answer.data.code === "session_not_closed") {
      result.textContent = t("notClosed");
    } else if (answer.status === 404) {
      result.textContent = t("noSession");
    } else {
      result.textContent = explain(answer);
    }
  });

  // ---- Start ----

  for (const node of document.querySelectorAll("[data-t]")) node.textContent = t(node.dataset.t);
  document.title = t("title");
  countOpinion();

  function route() {
    const hash = location.hash;
    const check = hash.match(/^#check(?:=(\d+))?$/);
    if (check) {
      openCheck(check[1]);
      return;
    }
    const link = hash.match(/^#code=([0-9A-Za-z-]{12,20})$/);
    // The code leaves the address bar at once: not in history, not on screen.
    if (hash) history.replaceState(null, "", location.pathname);
    if (link) {
      const code = canonical(link[1]);
      if (code) {
        state.code = code;
        loadForm();
        return;
      }
      askForCode(t("badCode"));
      return;
    }
    askForCode();
  }
  $("to-check").addEventListener("click", (event) => {
    event.preventDefault();
    openCheck();
  });
  $("to-vote").addEventListener("click", (event) => {
    event.preventDefault();
    askForCode();
  });
  window.addEventListener("hashchange", route);
  route();
})();
