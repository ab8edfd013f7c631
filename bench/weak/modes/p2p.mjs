// Mode "p2p": the baseline with no server in the media path. Each person's page is a tiny static
// page fulfilled by Playwright on http://localhost/ (a secure context, no server needed):
// getUserMedia and one RTCPeerConnection with no STUN. The driver carries the offer and answer
// (each with its host candidates, gathered before it is sent) between the pages with
// page.evaluate. Candidates are the veth addresses, so the media goes pat ⇄ srv ⇄ doc across
// the impaired link (srv forwards).

const PAGE = `<!doctype html><meta charset="utf-8"><title>p2p</title>
<video id="remote" autoplay playsinline></video>
<script>
const P = (window.__p2p = {});
window.__pcs = [];
P.start = async () => {
  P.stream = await navigator.mediaDevices.getUserMedia({
    audio: true, video: { width: { ideal: 640 }, height: { ideal: 360 } } });
  const pc = (P.pc = new RTCPeerConnection({ iceServers: [] }));
  for (const t of P.stream.getTracks()) pc.addTrack(t, P.stream);
  pc.ontrack = (e) => {
    const v = document.getElementById('remote');
    if (v.srcObject !== e.streams[0]) { v.srcObject = e.streams[0]; v.play().catch(() => {}); }
  };
  window.__pcs = [pc];
};
const gathered = (pc) => new Promise((resolve) => {
  if (pc.iceGatheringState === 'complete') return resolve();
  const t = setTimeout(resolve, 5000);
  pc.addEventListener('icegatheringstatechange', () => {
    if (pc.iceGatheringState === 'complete') { clearTimeout(t); resolve(); }
  });
});
P.offer = async () => {
  await P.pc.setLocalDescription(await P.pc.createOffer());
  await gathered(P.pc);
  return P.pc.localDescription.toJSON();
};
P.answer = async (offer) => {
  await P.pc.setRemoteDescription(offer);
  await P.pc.setLocalDescription(await P.pc.createAnswer());
  await gathered(P.pc);
  return P.pc.localDescription.toJSON();
};
P.accept = (answer) => P.pc.setRemoteDescription(answer);
</script>`;

async function open(ctx) {
  const page = ctx.pages()[0] || (await ctx.newPage());
  await page.route('http://localhost/**', (route) =>
    route.fulfill({ status: 200, contentType: 'text/html', body: PAGE }));
  await page.goto('http://localhost/p2p.html');
  await page.evaluate(() => window.__p2p.start());
  return page;
}

export default {
  name: 'p2p',
  async setup() {},
  async connect(env, { patient, doctor }) {
    const [patientPage, doctorPage] = await Promise.all([open(patient), open(doctor)]);
    const offer = await patientPage.evaluate(() => window.__p2p.offer());
    const answer = await doctorPage.evaluate((o) => window.__p2p.answer(o), offer);
    await patientPage.evaluate((a) => window.__p2p.accept(a), answer);
    return { patientPage, doctorPage };
  },
  async disconnect(env, { patientPage, doctorPage }) {
    for (const p of [patientPage, doctorPage]) {
      await p.evaluate(() => { window.__p2p.pc?.close(); window.__p2p.stream?.getTracks().forEach((t) => t.stop()); }).catch(() => {});
    }
  },
  async teardown() {},
};
