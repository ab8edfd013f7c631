// Every word the patient's page shows, in English and Urdu, and the language choice: ?lang=xx
// (kept), else the one kept in localStorage, else the browser's (navigator.language), else
// English. Static text in patient.html names its key in data-i18n (textContent),
// data-i18n-label (aria-label) or data-i18n-placeholder; the page's script asks t(key, vars) for
// the rest. Setting a language sets <html lang dir> (Urdu: rtl), so the CSS, written with
// logical properties, mirrors the layout.
//
// The consent text is versioned: CONSENT_VERSION names the text below in both languages. Change
// the text, change the version (the server then asks every patient again).

export const CONSENT_VERSION = '2026-12-v1';
export const LANGUAGES = ['en', 'ur'];
const STORE_KEY = 'mw.lang';
const RTL = new Set(['ur']);

const en = {
  brand: 'Mashwara',
  pageTitle: 'Your consultation – Mashwara',
  language: 'Language',
  loading: 'Loading…',
  loadingTitle: 'Opening your consultation…',
  loadingText: 'Please wait a moment.',

  consentTitle: 'Before your consultation',
  consentState: 'Please read and agree',
  consentText: [
    'This is a video consultation with a doctor of the clinic. It is like a visit in person: what you tell the doctor stays between you and the clinic.',
    'Your camera and microphone are used only during the call. The call is encrypted and it is not recorded.',
    'The clinic keeps a record of the consultation (the times, the doctor’s notes, the outcome and the call quality), as it does for a visit, and deletes your personal details after the period the law sets.',
    'A video call cannot replace every examination. If the doctor cannot help you safely by video, they will ask you to come to the clinic. In an emergency call 1122 or go to the nearest hospital.',
    'You can end the call at any time.',
  ],
  consentVersion: 'Consent text version \u2066{v}\u2069',
  consentAccept: 'I agree',
  consentDecline: 'If you do not agree, close this page and call the clinic.',
  consentFailed: 'Your answer could not be saved. Please check your connection and press “I agree” again.',

  checkTitle: 'Check your camera, sound and connection',
  checkState: 'Checking your camera and microphone',
  appointmentInfo: 'Consultation with {doctor} at {time}.',
  appointmentInfoAs: 'Consultation with {doctor} at {time}, as {role}.',
  yourDoctor: 'your doctor',
  yourCamera: 'Your camera',
  cameraHeading: 'Camera',
  cameraSelect: 'Choose a camera',
  micHeading: 'Microphone',
  micSelect: 'Choose a microphone',
  micHint: 'Speak: the bar moves when we hear you.',
  micLevel: 'Microphone level',
  noCamera: 'No camera found: the doctor will only hear you.',
  speakerHeading: 'Speaker',
  toneButton: 'Play a test sound',
  toneQuestion: 'Did you hear the sound?',
  yes: 'Yes',
  no: 'No',
  toneHeard: 'Good: your speaker works.',
  toneNotHeard: 'Turn the volume up and check that the phone is not on silent, then play the sound again.',
  netHeading: 'Connection',
  netChecking: 'Checking your connection…',
  netGood: 'Good for video.',
  netWeak: 'Weak: audio only may work better.',
  netNone: 'No connection to the clinic. Check your mobile data or Wi-Fi.',
  netFigures: 'Download {rate}, delay {rtt} ms.',
  kbps: '{n} kbit/s',
  mbps: '{n} Mbit/s',
  usingCamera: 'Using: {name}',
  netRetry: 'Check again',
  useAudioOnly: 'Use audio only',
  audioOnlyChosen: 'Audio only is on: the doctor will hear you and you will hear the doctor, without video.',
  joinHint: 'When you are ready, press Join. The doctor will let you in.',
  join: 'Join',
  connecting: 'Connecting…',

  waitingTitle: 'You are in the waiting room',
  waitingPlace: 'Place in the queue:',
  waitingExpected: 'Expected wait:',
  waitNow: 'any moment now',
  waitOne: 'about 1 minute',
  waitMany: 'about {n} minutes',
  waitUnknown: 'not known yet',
  waitingDoctor: 'Doctor:',
  doctorAvailable: 'ready, will let you in soon',
  doctorBusy: 'with another patient',
  doctorOffline: 'not online yet',
  waitingKeepOpen: 'Keep this page open. The call starts by itself when the doctor lets you in.',
  waitingNext: 'Waiting: you are next',
  waitingPlaceState: 'Waiting: place {n} in the queue',
  leave: 'Leave',
  messagesLabel: 'Messages',

  inCall: 'In the consultation',
  othersInCall: 'Other people in the call',
  callControls: 'Call controls',
  connectionLabel: 'Connection',
  mute: 'Mute',
  unmute: 'Unmute',
  cameraOff: 'Camera off',
  cameraOn: 'Camera on',
  hangUp: 'Hang up',
  joinedCall: '{who} joined the call.',
  leftCall: '{who} left the call.',
  lostConnection: '{who} lost their connection.',
  leftCallDoctor: '{who} left the call. Please wait; the doctor can come back.',
  lostConnectionDoctor: '{who} lost their connection. Please wait; the doctor can come back.',
  someone: 'Someone',
  theOther: 'The other person',
  otherAway: '{who}: the connection is interrupted. Please wait…',
  otherBack: '{who} is connected again.',
  pubFailed: 'Your connection to the clinic failed. Trying again…',
  pubInterrupted: 'Your connection is interrupted. Waiting for it to come back…',
  reconnecting: 'Connection lost. Reconnecting…',
  reconnectingAttempt: 'Connection lost. Reconnecting… (attempt {n})',
  reconnectingState: 'Reconnecting…',
  connectedAgain: 'Connected again.',

  endedTitle: 'Consultation ended',
  endedState: 'Consultation ended',
  endedByDoctor: 'The doctor ended the consultation.',
  endedGeneric: 'The consultation has ended.',
  youLeft: 'You left the consultation.',
  rateTitle: 'How was your consultation?',
  rateLegend: 'Your rating',
  stars: ['1 – very poor', '2 – poor', '3 – all right', '4 – good', '5 – very good'],
  commentLabel: 'Comment (optional)',
  commentHint: 'What went well, what could be better? Up to 1000 characters.',
  rateSend: 'Send rating',
  rateChoose: 'Please choose a rating from 1 to 5.',
  rateFailed: 'Your rating could not be sent. Please try again.',
  rateClose: 'You can also close this page now.',
  thanksTitle: 'Thank you',
  thanksState: 'Thank you',
  thanksText: 'Your rating has been sent. It helps the clinic. You can close this page now.',

  errorReference: 'Reference for the clinic:',
  roles: {
    patient: 'Patient', doctor: 'Doctor', interpreter: 'Interpreter', specialist: 'Specialist',
    family: 'Family member', admin: 'Clinic admin', participant: 'Participant',
  },
  errors: {
    unknown_token: ['This link does not work', 'We could not find a consultation for this link. Please check that you opened the whole link from your message, or contact the clinic.'],
    expired_token: ['This link has expired', 'The time for this consultation has passed. Please contact the clinic to get a new link, or ask for one below: enter the phone number the clinic has for you, and if you have an upcoming appointment, a new link comes by SMS.'],
    too_early: ['It is too early to join', 'Your consultation room is not open yet. Please open this link again closer to your appointment time.'],
    too_early_at: ['It is too early to join', 'Your consultation room opens on {when}. Please open this link again then.'],
    revoked_token: ['This link was cancelled', 'The clinic cancelled this link. Please contact the clinic if you still need a consultation.'],
    token_in_use: ['This link is already open', 'This consultation is already open in another window or on another phone. Close the other one, then reload this page.'],
    not_authenticated: ['You cannot join with this link', 'The clinic has not allowed this connection. Please contact the clinic.'],
    authentication_timeout: ['The connection timed out', 'Joining took too long. Please check your internet connection and reload this page.'],
    message_too_large: ['Something went wrong', 'The page sent something the server could not accept. Please reload this page.'],
    camera_denied: ['Camera and microphone are blocked', 'The doctor needs to hear you, and if possible see you. Allow this page to use your microphone and camera, then reload this page.'],
    camera_only_denied: ['The camera is blocked', 'The microphone works but this page may not use the camera. Allow the camera (see below) and reload, or continue with audio only: the doctor will hear you but not see you.'],
    no_devices: ['No microphone found', 'We could not find a microphone on this device. Connect one, or use another phone, then reload this page.'],
    no_webrtc: ['This browser cannot make video calls', 'Please open the link in an up-to-date Chrome, Firefox or Safari. On an Android phone, Chrome works best.'],
    network: ['No connection to the clinic', 'We could not reach the clinic’s server. Please check your mobile data or Wi-Fi and reload this page.'],
    default: ['Something went wrong', 'Please reload this page. If it happens again, contact the clinic.'],
  },
  androidTitle: 'On an Android phone with Chrome:',
  androidSteps: [
    'Tap the lock or settings icon beside the address at the top.',
    'Tap “Permissions” (or “Site settings”).',
    'Set Camera and Microphone to “Allow”.',
    'Come back to this page and reload it.',
  ],
  reload: 'Reload this page',
  continueAudioOnly: 'Continue with audio only',
  resendTitle: 'Get a new link',
  resendPhone: 'Your phone number',
  resendSend: 'Send me a new link',
  resendDone: 'If this number has an upcoming appointment, a new link is on its way by SMS.',
  resendInvalid: 'This does not look like a phone number. Please check it.',
  resendFailed: 'The request could not be sent. Please try again in a minute.',

  quality: {
    levels: { good: 'good', fair: 'fair', poor: 'poor', unknown: 'checking…' },
    yours: 'Your connection',
    theirs: '{role}’s connection',
    weakSelfPatient: 'Your connection is weak: video is paused, you can still talk. Video comes back by itself.',
    audioOnly: 'Audio only',
    audioOnlyOn: 'Audio only is on: no video is sent or received, you can still talk.',
  },
};

const ur = {
  brand: 'مشورہ',
  pageTitle: 'آپ کا طبی مشورہ – مشورہ',
  language: 'زبان',
  loading: 'کھل رہا ہے…',
  loadingTitle: 'آپ کا مشورہ کھولا جا رہا ہے…',
  loadingText: 'براہِ کرم ایک لمحہ انتظار کریں۔',

  consentTitle: 'مشورے سے پہلے',
  consentState: 'براہِ کرم پڑھ کر اپنی رضامندی دیں',
  consentText: [
    'یہ کلینک کے ڈاکٹر کے ساتھ ویڈیو کے ذریعے مشورہ ہے۔ یہ کلینک جا کر ملنے جیسا ہے: جو کچھ آپ ڈاکٹر کو بتائیں گے وہ آپ اور کلینک کے درمیان راز رہے گا۔',
    'آپ کا کیمرہ اور مائیکروفون صرف کال کے دوران استعمال ہوں گے۔ کال محفوظ (انکرپٹڈ) ہے اور ریکارڈ نہیں کی جاتی۔',
    'کلینک اس مشورے کا ریکارڈ رکھتا ہے (وقت، ڈاکٹر کے نوٹس، نتیجہ اور کال کا معیار)، جیسے عام معائنے کا رکھا جاتا ہے، اور قانون میں مقررہ مدت کے بعد آپ کی ذاتی معلومات مٹا دیتا ہے۔',
    'ویڈیو کال ہر معائنے کی جگہ نہیں لے سکتی۔ اگر ڈاکٹر ویڈیو پر محفوظ طریقے سے آپ کی مدد نہ کر سکیں تو وہ آپ کو کلینک آنے کا کہیں گے۔ ایمرجنسی میں 1122 پر فون کریں یا قریبی ہسپتال جائیں۔',
    'آپ جب چاہیں کال ختم کر سکتے ہیں۔',
  ],
  consentVersion: 'رضامندی کی عبارت کا نسخہ \u2066{v}\u2069',
  consentAccept: 'میں متفق ہوں',
  consentDecline: 'اگر آپ متفق نہیں ہیں تو یہ صفحہ بند کر کے کلینک کو فون کریں۔',
  consentFailed: 'آپ کا جواب محفوظ نہیں ہو سکا۔ اپنا انٹرنیٹ دیکھیں اور دوبارہ ”میں متفق ہوں“ دبائیں۔',

  checkTitle: 'اپنا کیمرہ، آواز اور انٹرنیٹ جانچیں',
  checkState: 'کیمرہ اور مائیکروفون کی جانچ ہو رہی ہے',
  appointmentInfo: '\u2068{doctor}\u2069 کے ساتھ مشورہ، وقت \u2066{time}\u2069۔',
  appointmentInfoAs: '\u2068{doctor}\u2069 کے ساتھ مشورہ، وقت \u2066{time}\u2069، بطور {role}۔',
  yourDoctor: 'آپ کے ڈاکٹر',
  yourCamera: 'آپ کا کیمرہ',
  cameraHeading: 'کیمرہ',
  cameraSelect: 'کیمرہ منتخب کریں',
  micHeading: 'مائیکروفون',
  micSelect: 'مائیکروفون منتخب کریں',
  micHint: 'کچھ بولیں: جب ہمیں آپ کی آواز آئے گی تو یہ پٹی حرکت کرے گی۔',
  micLevel: 'مائیکروفون کی آواز کی سطح',
  noCamera: 'کوئی کیمرہ نہیں ملا: ڈاکٹر صرف آپ کی آواز سن سکیں گے۔',
  speakerHeading: 'اسپیکر',
  toneButton: 'جانچ کی آواز چلائیں',
  toneQuestion: 'کیا آپ نے آواز سنی؟',
  yes: 'جی ہاں',
  no: 'نہیں',
  toneHeard: 'بہت خوب: آپ کا اسپیکر ٹھیک کام کر رہا ہے۔',
  toneNotHeard: 'فون کی آواز اونچی کریں اور دیکھیں کہ فون خاموش (سائلنٹ) پر نہ ہو، پھر دوبارہ آواز چلائیں۔',
  netHeading: 'انٹرنیٹ',
  netChecking: 'آپ کا انٹرنیٹ جانچا جا رہا ہے…',
  netGood: 'ویڈیو کے لیے اچھا ہے۔',
  netWeak: 'کمزور ہے: صرف آواز والی کال بہتر چل سکتی ہے۔',
  netNone: 'کلینک سے رابطہ نہیں ہو رہا۔ اپنا موبائل ڈیٹا یا وائی فائی دیکھیں۔',
  netFigures: 'رفتار {rate}، تاخیر {rtt} ملی سیکنڈ۔',
  kbps: '{n} کلو بٹ فی سیکنڈ',
  mbps: '{n} میگا بٹ فی سیکنڈ',
  usingCamera: 'استعمال میں: {name}',
  netRetry: 'دوبارہ جانچیں',
  useAudioOnly: 'صرف آواز استعمال کریں',
  audioOnlyChosen: 'صرف آواز چالو ہے: ڈاکٹر آپ کو سنیں گے اور آپ ڈاکٹر کو، ویڈیو کے بغیر۔',
  joinHint: 'تیار ہوں تو ”شامل ہوں“ دبائیں۔ ڈاکٹر آپ کو اندر بلا لیں گے۔',
  join: 'شامل ہوں',
  connecting: 'رابطہ ہو رہا ہے…',

  waitingTitle: 'آپ انتظار گاہ میں ہیں',
  waitingPlace: 'قطار میں آپ کا نمبر:',
  waitingExpected: 'اندازاً انتظار:',
  waitNow: 'کسی بھی لمحے',
  waitOne: 'تقریباً 1 منٹ',
  waitMany: 'تقریباً {n} منٹ',
  waitUnknown: 'ابھی معلوم نہیں',
  waitingDoctor: 'ڈاکٹر:',
  doctorAvailable: 'تیار ہیں، جلد آپ کو بلائیں گے',
  doctorBusy: 'کسی اور مریض کے ساتھ ہیں',
  doctorOffline: 'ابھی آن لائن نہیں ہیں',
  waitingKeepOpen: 'یہ صفحہ کھلا رکھیں۔ جب ڈاکٹر آپ کو بلائیں گے تو کال خود شروع ہو جائے گی۔',
  waitingNext: 'انتظار: اگلی باری آپ کی ہے',
  waitingPlaceState: 'انتظار: قطار میں نمبر {n}',
  leave: 'چھوڑ دیں',
  messagesLabel: 'پیغامات',

  inCall: 'مشورہ جاری ہے',
  othersInCall: 'کال میں موجود دوسرے لوگ',
  callControls: 'کال کے بٹن',
  connectionLabel: 'رابطہ',
  mute: 'آواز بند کریں',
  unmute: 'آواز کھولیں',
  cameraOff: 'کیمرہ بند کریں',
  cameraOn: 'کیمرہ کھولیں',
  hangUp: 'کال ختم کریں',
  joinedCall: '{who} کال میں شامل ہو گئے۔',
  leftCall: '{who} کال سے چلے گئے۔',
  lostConnection: '{who} کا رابطہ ٹوٹ گیا۔',
  leftCallDoctor: '{who} کال سے چلے گئے۔ براہِ کرم انتظار کریں؛ ڈاکٹر واپس آ سکتے ہیں۔',
  lostConnectionDoctor: '{who} کا رابطہ ٹوٹ گیا۔ براہِ کرم انتظار کریں؛ ڈاکٹر واپس آ سکتے ہیں۔',
  someone: 'کوئی',
  theOther: 'دوسرے شخص',
  otherAway: '{who}: رابطہ رک گیا ہے۔ براہِ کرم انتظار کریں…',
  otherBack: '{who} کا رابطہ بحال ہو گیا۔',
  pubFailed: 'کلینک سے آپ کا رابطہ ٹوٹ گیا۔ دوبارہ کوشش ہو رہی ہے…',
  pubInterrupted: 'آپ کا رابطہ رک گیا ہے۔ اس کے بحال ہونے کا انتظار ہے…',
  reconnecting: 'رابطہ ٹوٹ گیا۔ دوبارہ جوڑا جا رہا ہے…',
  reconnectingAttempt: 'رابطہ ٹوٹ گیا۔ دوبارہ جوڑا جا رہا ہے… (کوشش {n})',
  reconnectingState: 'دوبارہ جوڑا جا رہا ہے…',
  connectedAgain: 'رابطہ بحال ہو گیا۔',

  endedTitle: 'مشورہ ختم ہو گیا',
  endedState: 'مشورہ ختم ہو گیا',
  endedByDoctor: 'ڈاکٹر نے مشورہ ختم کر دیا۔',
  endedGeneric: 'مشورہ ختم ہو گیا ہے۔',
  youLeft: 'آپ نے مشورہ چھوڑ دیا۔',
  rateTitle: 'آپ کا مشورہ کیسا رہا؟',
  rateLegend: 'آپ کی رائے',
  stars: ['1 – بہت برا', '2 – برا', '3 – ٹھیک', '4 – اچھا', '5 – بہت اچھا'],
  commentLabel: 'تبصرہ (اختیاری)',
  commentHint: 'کیا اچھا رہا، کیا بہتر ہو سکتا ہے؟ زیادہ سے زیادہ 1000 حروف۔',
  rateSend: 'رائے بھیجیں',
  rateChoose: 'براہِ کرم 1 سے 5 تک کوئی رائے منتخب کریں۔',
  rateFailed: 'آپ کی رائے نہیں بھیجی جا سکی۔ براہِ کرم دوبارہ کوشش کریں۔',
  rateClose: 'آپ یہ صفحہ ابھی بند بھی کر سکتے ہیں۔',
  thanksTitle: 'شکریہ',
  thanksState: 'شکریہ',
  thanksText: 'آپ کی رائے بھیج دی گئی ہے۔ اس سے کلینک کو مدد ملتی ہے۔ اب آپ یہ صفحہ بند کر سکتے ہیں۔',

  errorReference: 'کلینک کے لیے حوالہ:',
  roles: {
    patient: 'مریض', doctor: 'ڈاکٹر', interpreter: 'ترجمان', specialist: 'ماہر ڈاکٹر',
    family: 'گھر کا فرد', admin: 'کلینک انتظامیہ', participant: 'شریک',
  },
  errors: {
    unknown_token: ['یہ لنک کام نہیں کر رہا', 'اس لنک کے لیے کوئی مشورہ نہیں ملا۔ دیکھ لیں کہ آپ نے پیغام میں سے پورا لنک کھولا ہے، یا کلینک سے رابطہ کریں۔'],
    expired_token: ['اس لنک کی مدت ختم ہو گئی ہے', 'اس مشورے کا وقت گزر چکا ہے۔ نیچے نیا لنک منگوا سکتے ہیں: وہ فون نمبر لکھیں جو کلینک کے پاس ہے؛ اگر آپ کی کوئی آنے والی ملاقات ہے تو نیا لنک ایس ایم ایس سے آ جائے گا۔'],
    too_early: ['ابھی شامل ہونے کا وقت نہیں ہوا', 'آپ کا مشورے کا کمرہ ابھی نہیں کھلا۔ ملاقات کے وقت کے قریب یہ لنک دوبارہ کھولیں۔'],
    too_early_at: ['ابھی شامل ہونے کا وقت نہیں ہوا', 'آپ کا مشورے کا کمرہ {when} کو کھلے گا۔ اس وقت یہ لنک دوبارہ کھولیں۔'],
    revoked_token: ['یہ لنک منسوخ کر دیا گیا ہے', 'کلینک نے یہ لنک منسوخ کر دیا ہے۔ اگر آپ کو اب بھی مشورہ چاہیے تو کلینک سے رابطہ کریں۔'],
    token_in_use: ['یہ لنک پہلے سے کھلا ہوا ہے', 'یہ مشورہ کسی اور ونڈو یا کسی اور فون پر کھلا ہوا ہے۔ اسے بند کریں، پھر یہ صفحہ دوبارہ لوڈ کریں۔'],
    not_authenticated: ['اس لنک سے شامل نہیں ہو سکتے', 'کلینک نے اس رابطے کی اجازت نہیں دی۔ براہِ کرم کلینک سے رابطہ کریں۔'],
    authentication_timeout: ['رابطے کا وقت ختم ہو گیا', 'شامل ہونے میں بہت دیر لگی۔ اپنا انٹرنیٹ دیکھیں اور یہ صفحہ دوبارہ لوڈ کریں۔'],
    message_too_large: ['کچھ غلط ہو گیا', 'صفحے نے کچھ ایسا بھیجا جو سرور قبول نہ کر سکا۔ یہ صفحہ دوبارہ لوڈ کریں۔'],
    camera_denied: ['کیمرہ اور مائیکروفون بند ہیں', 'ڈاکٹر کو آپ کی آواز سننی ہے، اور ہو سکے تو آپ کو دیکھنا بھی ہے۔ اس صفحے کو مائیکروفون اور کیمرہ استعمال کرنے کی اجازت دیں، پھر صفحہ دوبارہ لوڈ کریں۔'],
    camera_only_denied: ['کیمرہ بند ہے', 'مائیکروفون کام کر رہا ہے مگر یہ صفحہ کیمرہ استعمال نہیں کر سکتا۔ کیمرے کی اجازت دیں (نیچے دیکھیں) اور صفحہ دوبارہ لوڈ کریں، یا صرف آواز کے ساتھ جاری رکھیں: ڈاکٹر آپ کو سن سکیں گے مگر دیکھ نہیں سکیں گے۔'],
    no_devices: ['کوئی مائیکروفون نہیں ملا', 'اس آلے پر کوئی مائیکروفون نہیں ملا۔ مائیکروفون لگائیں یا کوئی اور فون استعمال کریں، پھر یہ صفحہ دوبارہ لوڈ کریں۔'],
    no_webrtc: ['یہ براؤزر ویڈیو کال نہیں کر سکتا', 'براہِ کرم یہ لنک کروم، فائرفاکس یا سفاری کے نئے ورژن میں کھولیں۔ اینڈرائیڈ فون پر کروم سب سے اچھا چلتا ہے۔'],
    network: ['کلینک سے رابطہ نہیں ہو رہا', 'کلینک کے سرور تک رسائی نہیں ہو سکی۔ اپنا موبائل ڈیٹا یا وائی فائی دیکھیں اور یہ صفحہ دوبارہ لوڈ کریں۔'],
    default: ['کچھ غلط ہو گیا', 'یہ صفحہ دوبارہ لوڈ کریں۔ اگر پھر بھی ایسا ہو تو کلینک سے رابطہ کریں۔'],
  },
  androidTitle: 'اینڈرائیڈ فون پر کروم میں:',
  androidSteps: [
    'اوپر پتے (ایڈریس) کے ساتھ تالے یا سیٹنگز کے نشان کو دبائیں۔',
    '”اجازتیں“ (یا ”سائٹ کی سیٹنگز“) دبائیں۔',
    'کیمرہ اور مائیکروفون کو ”اجازت دیں“ پر کریں۔',
    'اس صفحے پر واپس آ کر اسے دوبارہ لوڈ کریں۔',
  ],
  reload: 'صفحہ دوبارہ لوڈ کریں',
  continueAudioOnly: 'صرف آواز کے ساتھ جاری رکھیں',
  resendTitle: 'نیا لنک منگوائیں',
  resendPhone: 'آپ کا فون نمبر',
  resendSend: 'مجھے نیا لنک بھیجیں',
  resendDone: 'اگر اس نمبر کی کوئی آنے والی ملاقات ہے تو نیا لنک ایس ایم ایس سے بھیجا جا رہا ہے۔',
  resendInvalid: 'یہ فون نمبر درست نہیں لگتا۔ براہِ کرم دوبارہ دیکھیں۔',
  resendFailed: 'درخواست نہیں بھیجی جا سکی۔ ایک منٹ بعد دوبارہ کوشش کریں۔',

  quality: {
    levels: { good: 'اچھا', fair: 'درمیانہ', poor: 'کمزور', unknown: 'جانچ جاری ہے…' },
    yours: 'آپ کا رابطہ',
    theirs: '{role} کا رابطہ',
    weakSelfPatient: 'آپ کا رابطہ کمزور ہے: ویڈیو رکی ہوئی ہے، آپ بات کر سکتے ہیں۔ ویڈیو خود واپس آ جائے گی۔',
    audioOnly: 'صرف آواز',
    audioOnlyOn: 'صرف آواز چالو ہے: نہ ویڈیو جاتی ہے نہ آتی ہے، آپ بات کر سکتے ہیں۔',
  },
};

export const STRINGS = { en, ur };

let current = 'en';

/** The language in use ("en" or "ur"). */
export function lang() {
  return current;
}

function pick(code) {
  const c = String(code || '').toLowerCase().slice(0, 2);
  return LANGUAGES.includes(c) ? c : null;
}

/** The language to start with: ?lang=, then the kept choice, then the browser's, then English. */
export function initialLanguage() {
  const q = pick(new URLSearchParams(location.search).get('lang'));
  if (q) {
    try { localStorage.setItem(STORE_KEY, q); } catch { /* private mode */ }
    return q;
  }
  let kept = null;
  try { kept = pick(localStorage.getItem(STORE_KEY)); } catch { /* private mode */ }
  if (kept) return kept;
  for (const l of navigator.languages || [navigator.language]) {
    const p = pick(l);
    if (p) return p;
  }
  return 'en';
}

/** One string (or a list, for keys that hold one) with {name} filled from `vars`. */
export function t(key, vars = {}) {
  let v = key.split('.').reduce((o, k) => (o == null ? o : o[k]), STRINGS[current]);
  if (v == null) v = key.split('.').reduce((o, k) => (o == null ? o : o[k]), en);
  if (typeof v !== 'string') return v;
  return v.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
}

/** Fills every data-i18n* element under `root` with the current language's words. */
export function translate(root = document) {
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-label]')) el.setAttribute('aria-label', t(el.dataset.i18nLabel));
  for (const el of root.querySelectorAll('[data-i18n-placeholder]')) el.setAttribute('placeholder', t(el.dataset.i18nPlaceholder));
}

/**
 * Switches the page to `code`: <html lang dir>, the title, every data-i18n element; keeps the
 * choice. Returns the language set.
 */
export function setLanguage(code, { keep = true } = {}) {
  current = pick(code) || 'en';
  const html = document.documentElement;
  html.lang = current;
  html.dir = RTL.has(current) ? 'rtl' : 'ltr';
  document.title = t('pageTitle');
  if (keep) {
    try { localStorage.setItem(STORE_KEY, current); } catch { /* private mode */ }
  }
  translate();
  return current;
}

/** A time of day in the current language's way of writing it. */
export function clock(unixSeconds) {
  return new Date(unixSeconds * 1000).toLocaleTimeString(current === 'ur' ? 'ur-PK' : undefined, { hour: '2-digit', minute: '2-digit' });
}

/** A date and time (for "opens on …"). */
export function dateTime(unixSeconds) {
  return new Date(unixSeconds * 1000).toLocaleString(current === 'ur' ? 'ur-PK' : undefined, {
    weekday: 'long', day: 'numeric', month: 'long', hour: '2-digit', minute: '2-digit',
  });
}
