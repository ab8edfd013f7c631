// The patient's (or a guest's) side of a consultation's messages, photos and advice. It mounts
// itself into every <section id="messages"> of the patient page (one in the waiting view, one
// in the call view: the same conversation in both) and listens to the page's Signaling object:
// `chat` and `chat_history` (docs/protocol.md) fill the conversation, `advice` shows what the
// doctor advised at once, and on `call_ended` the advice is shown again on the end view (read
// back with GET /api/join/<token>/advice). The patient sends a photo of a document: the page
// shrinks it in a canvas (longest side 1600 px, JPEG quality 0.8) so a weak link carries it,
// then POSTs the bytes to /api/join/<token>/attachments. Texts in English or Urdu, from
// <html lang>.
//
// Hook: mountChat(signaling, token) once the page has made its Signaling object.

const TEXT = {
  en: {
    title: 'Messages',
    empty: 'No messages yet. The doctor can write to you here.',
    label: 'Write a message',
    send: 'Send',
    you: 'You',
    doctor: 'Doctor',
    patient: 'Patient',
    interpreter: 'Interpreter',
    specialist: 'Specialist',
    family: 'Family member',
    photo: 'Send a photo of a document',
    photoHint: 'A prescription, report or card. It is made smaller before sending.',
    photoSending: 'Sending the photo…',
    photoSent: 'Photo sent to the doctor.',
    photoFailed: 'The photo could not be sent. Please try again.',
    photoNotImage: 'This is not a photo. Take a photo or choose a picture.',
    tooFast: 'You are sending messages too fast. Please wait a moment.',
    notSent: 'The message could not be sent. Please try again.',
    offline: 'Not connected: the message was not sent.',
    advice: "Doctor's advice",
    adviceNew: 'The doctor has given you advice. It is shown below the messages.',
    adviceKeep: 'Keep this advice: you can read it here until you close the page.',
  },
  ur: {
    title: 'پیغامات',
    empty: 'ابھی کوئی پیغام نہیں۔ ڈاکٹر آپ کو یہاں لکھ سکتے ہیں۔',
    label: 'پیغام لکھیں',
    send: 'بھیجیں',
    you: 'آپ',
    doctor: 'ڈاکٹر',
    patient: 'مریض',
    interpreter: 'ترجمان',
    specialist: 'ماہر ڈاکٹر',
    family: 'گھر والے',
    photo: 'دستاویز کی تصویر بھیجیں',
    photoHint: 'نسخہ، رپورٹ یا کارڈ۔ بھیجنے سے پہلے تصویر چھوٹی کی جاتی ہے۔',
    photoSending: 'تصویر بھیجی جا رہی ہے…',
    photoSent: 'تصویر ڈاکٹر کو بھیج دی گئی۔',
    photoFailed: 'تصویر نہیں بھیجی جا سکی۔ دوبارہ کوشش کریں۔',
    photoNotImage: 'یہ تصویر نہیں ہے۔ کیمرے سے تصویر لیں یا کوئی تصویر چنیں۔',
    tooFast: 'آپ بہت جلدی پیغام بھیج رہے ہیں۔ تھوڑا انتظار کریں۔',
    notSent: 'پیغام نہیں بھیجا جا سکا۔ دوبارہ کوشش کریں۔',
    offline: 'رابطہ نہیں ہے: پیغام نہیں بھیجا گیا۔',
    advice: 'ڈاکٹر کی ہدایات',
    adviceNew: 'ڈاکٹر نے آپ کو ہدایات دی ہیں۔ یہ پیغامات کے نیچے ہیں۔',
    adviceKeep: 'یہ ہدایات سنبھال کر رکھیں: یہ صفحہ بند کرنے تک یہاں پڑھی جا سکتی ہیں۔',
  },
};

const MAX_CHARS = 1000;
const PHOTO_MAX_SIDE = 1600;
const PHOTO_QUALITY = 0.8;
const PHOTO_MAX_BYTES = 2 * 1024 * 1024;

function t(key) {
  const lang = (document.documentElement.lang || 'en').slice(0, 2).toLowerCase();
  return (TEXT[lang] || TEXT.en)[key] ?? TEXT.en[key];
}

function el(tag, attrs = {}, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else if (k === 'hidden') e.hidden = !!v;
    else e.setAttribute(k, v);
  }
  if (text != null) e.textContent = text;
  return e;
}

function timeOf(ms) {
  return new Date(ms).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
}

/**
 * Shrinks a picture so its longest side is at most PHOTO_MAX_SIDE and encodes it as JPEG.
 * Resolves with a Blob; rejects with Error('not_image') if the browser cannot decode it.
 */
export async function shrinkPhoto(file, maxSide = PHOTO_MAX_SIDE, quality = PHOTO_QUALITY) {
  let bitmap;
  try {
    bitmap = await createImageBitmap(file, { imageOrientation: 'from-image' });
  } catch {
    throw new Error('not_image');
  }
  const scale = Math.min(1, maxSide / Math.max(bitmap.width, bitmap.height));
  const w = Math.max(1, Math.round(bitmap.width * scale));
  const h = Math.max(1, Math.round(bitmap.height * scale));
  const canvas = document.createElement('canvas');
  canvas.width = w;
  canvas.height = h;
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = '#fff'; // a transparent PNG becomes white paper, not black
  ctx.fillRect(0, 0, w, h);
  ctx.drawImage(bitmap, 0, 0, w, h);
  bitmap.close?.();
  let q = quality;
  for (;;) {
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, 'image/jpeg', q));
    if (!blob) throw new Error('not_image');
    if (blob.size <= PHOTO_MAX_BYTES || q <= 0.4) return { blob, width: w, height: h };
    q -= 0.2;
  }
}

class ChatView {
  constructor(section, n, ctx) {
    this.ctx = ctx;
    section.classList.add('chat');
    section.replaceChildren();
    const hid = `chat-title-${n}`;
    section.setAttribute('aria-labelledby', hid);
    section.append(el('h2', { id: hid }, t('title')));
    this.empty = el('p', { class: 'small chat-empty' }, t('empty'));
    this.log = el('ol', { class: 'chat-log', 'aria-live': 'polite', 'aria-relevant': 'additions', tabindex: '0', 'aria-labelledby': hid });
    section.append(this.empty, this.log);

    const form = el('form', { class: 'chat-form', novalidate: '' });
    const inputId = `chat-text-${n}`;
    const label = el('label', { for: inputId }, t('label'));
    this.input = el('textarea', { id: inputId, rows: '2', maxlength: String(MAX_CHARS), autocomplete: 'off' });
    const send = el('button', { type: 'submit', class: 'primary' }, t('send'));
    const row = el('div', { class: 'chat-row' });
    row.append(this.input, send);
    this.status = el('p', { class: 'small chat-status', role: 'status' });
    form.append(label, row, this.status);
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      this.ctx.send(this.input.value, this);
    });
    this.input.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' && !ev.shiftKey) {
        ev.preventDefault();
        this.ctx.send(this.input.value, this);
      }
    });
    section.append(form);

    // The photo: only the patient's own link may send one (a guest's gets 403).
    this.photo = el('div', { class: 'chat-photo', hidden: true });
    const fileId = `chat-photo-${n}`;
    const pick = el('label', { for: fileId, class: 'button' }, `📷 ${t('photo')}`);
    this.file = el('input', { id: fileId, type: 'file', accept: 'image/*', capture: 'environment', class: 'visually-hidden' });
    this.file.addEventListener('change', () => {
      const f = this.file.files && this.file.files[0];
      this.file.value = '';
      if (f) this.ctx.sendPhoto(f, this);
    });
    this.photoStatus = el('p', { class: 'small', role: 'status' }, t('photoHint'));
    this.photo.append(pick, this.file, this.photoStatus);
    section.append(this.photo);

    this.advice = el('div', { class: 'advice', hidden: true });
    const aid = `chat-advice-${n}`;
    this.advice.append(el('h3', { id: aid }, t('advice')));
    this.adviceList = el('ul', { class: 'advice-list', 'aria-labelledby': aid });
    this.advice.append(this.adviceList);
    section.append(this.advice);
  }

  render(messages) {
    this.log.replaceChildren(...messages.map((m) => this.item(m)));
    this.empty.hidden = messages.length > 0;
    this.log.lastElementChild?.scrollIntoView?.({ block: 'nearest' });
  }

  item(m) {
    const li = el('li', { class: m.from_you ? 'mine' : 'theirs' });
    li.dataset.role = m.sender_role;
    const who = m.from_you ? t('you')
      : m.sender_role === 'doctor' ? m.sender_name || t('doctor')
        : t(m.sender_role) || m.sender_role;
    const head = el('span', { class: 'chat-who' }, `${who} · ${timeOf(m.sent_at_ms)}`);
    const body = el('span', { class: 'chat-text' }, m.text);
    body.setAttribute('dir', 'auto');
    li.append(head, body);
    return li;
  }

  renderAdvice(list) {
    this.advice.hidden = list.length === 0;
    this.adviceList.replaceChildren(...list.map((a) => {
      const li = el('li', {}, a.text);
      li.setAttribute('dir', 'auto');
      return li;
    }));
  }
}

/** Mounts the conversation into the page's #messages sections and wires it to `signaling`. */
export function mountChat(signaling, token) {
  const views = [];
  let messages = [];
  let advice = [];
  let role = null;
  let appointmentId = null;
  const mw = window.__mw || {};
  mw.chat = { messages: () => messages, advice: () => advice };

  const ctx = {
    send(text, view) {
      const clean = String(text || '').trim();
      if (!clean) return;
      if ([...clean].length > MAX_CHARS) return;
      if (!signaling.send({ type: 'chat', text: clean })) {
        view.status.textContent = t('offline');
        return;
      }
      view.status.textContent = '';
      for (const v of views) v.input.value = '';
    },
    async sendPhoto(file, view) {
      const say = (key) => { for (const v of views) v.photoStatus.textContent = t(key); };
      say('photoSending');
      try {
        const { blob } = await shrinkPhoto(file);
        const res = await fetch(`/api/join/${encodeURIComponent(token)}/attachments`, {
          method: 'POST',
          headers: { 'content-type': 'image/jpeg' },
          body: blob,
          cache: 'no-store',
        });
        if (!res.ok) throw new Error(`http_${res.status}`);
        const body = await res.json().catch(() => ({}));
        mw.photosSent = (mw.photosSent || 0) + 1;
        mw.lastPhoto = { ...body.attachment, bytes: blob.size };
        say('photoSent');
      } catch (e) {
        say(e.message === 'not_image' ? 'photoNotImage' : 'photoFailed');
      }
      view.file.focus?.();
    },
  };

  const build = () => {
    views.length = 0;
    for (const [n, section] of [...document.querySelectorAll('section#messages')].entries()) {
      const v = new ChatView(section, n, ctx);
      v.photo.hidden = role !== 'patient';
      views.push(v);
    }
  };
  const renderAll = () => { for (const v of views) v.render(messages); };
  const renderAdvice = () => { for (const v of views) v.renderAdvice(advice); };
  build();
  renderAll();
  // The page may switch between English and Urdu (<html lang>): the words follow.
  new MutationObserver(() => { build(); renderAll(); renderAdvice(); })
    .observe(document.documentElement, { attributes: true, attributeFilter: ['lang'] });

  const loadAdvice = async () => {
    if (role !== 'patient') return advice;
    try {
      const res = await fetch(`/api/join/${encodeURIComponent(token)}/advice`, { cache: 'no-store' });
      if (res.ok) advice = (await res.json()).advice || [];
    } catch { /* keep what we have */ }
    renderAdvice();
    return advice;
  };

  signaling.on('welcome', (m) => {
    role = m.role;
    appointmentId = m.appointment_id;
    for (const v of views) v.photo.hidden = role !== 'patient';
    loadAdvice();
  });
  signaling.on('chat_history', (m) => {
    if (appointmentId != null && m.appointment_id !== appointmentId) return;
    messages = (m.messages || []).slice();
    renderAll();
  });
  signaling.on('chat', (m) => {
    if (appointmentId != null && m.appointment_id !== appointmentId) return;
    if (messages.some((x) => x.id === m.id)) return;
    messages.push(m);
    renderAll();
  });
  signaling.on('advice', (m) => {
    if (!m.advice || advice.some((a) => a.id === m.advice.id)) return;
    advice.push(m.advice);
    renderAdvice();
    for (const v of views) v.status.textContent = t('adviceNew');
  });
  signaling.on('error', (m) => {
    if (m.fatal) return;
    const text = m.code === 'too_many_requests' ? t('tooFast') : m.code === 'malformed_message' ? t('notSent') : null;
    if (text) for (const v of views) v.status.textContent = text;
  });
  signaling.on('call_ended', async () => {
    // The end view: the advice once more, to read again before closing the page.
    const list = await loadAdvice();
    const ended = document.querySelector('[data-view="ended"]');
    if (!ended || list.length === 0) return;
    let box = ended.querySelector('.advice-ended');
    if (!box) {
      box = el('section', { class: 'advice advice-ended', 'aria-labelledby': 'advice-ended-title' });
      ended.append(box);
    }
    const items = el('ul', { class: 'advice-list' });
    for (const a of list) {
      const li = el('li', {}, a.text);
      li.setAttribute('dir', 'auto');
      items.append(li);
    }
    box.replaceChildren(el('h2', { id: 'advice-ended-title' }, t('advice')), items, el('p', { class: 'small' }, t('adviceKeep')));
  });
  return { views };
}
