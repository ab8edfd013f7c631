/* sfu-sdp.h — the SDP text the relay exchanges with browsers (private to the sfu module; no
 * pipeline, no sockets): small rewrites of its own offers before a browser sees them, and the
 * checks of what a browser sends back (its answer and its trickled ICE candidates) before
 * GStreamer's parser and webrtcbin see them. Pure functions; any thread.
 *
 * webrtcbin 1.22 writes audio RED as "red/48000" with no format parameters and adds an audio
 * "ulpfec", which browsers refuse; Chrome speaks RED for Opus as "red/48000/2" with
 * "a=fmtp:<red> <opus>/<opus>" (RFC 2198 redundancy of the previous packet). Only the text sent
 * to the browser changes: the payload types stay the ones webrtcbin negotiates with. */
#pragma once

#include <glib.h>
#include <gst/sdp/sdp.h>

/* (transfer full) `sdp` with the audio section's RED made browser-shaped for the Opus payload
 * `opus_pt`, its audio ulpfec removed, and RED listed first when `red_first` (the browser then
 * sends RED). `*red_pt` = RED's payload type, or -1 if the audio section has none (the text is
 * then returned unchanged). */
char *sfu_sdp_audio_red(const char *sdp, int opus_pt, gboolean red_first, int *red_pt);

/* Bounds of a browser's answer. Chrome's answer to a two-track offer is ~2.5 KiB of ~60 lines
 * of under 200 bytes; the signaling message carrying it is at most 64 KiB. */
#define SFU_SDP_MAX_BYTES (64 * 1024)
#define SFU_SDP_MAX_LINE 1024
#define SFU_SDP_MAX_LINES 1024
#define SFU_SDP_MAX_MLINES 16 /* the signaling accepts sdpMLineIndex 0..15 */
#define SFU_SDP_MAX_CANDIDATE 1024

/* (transfer full) A browser's answer, checked and parsed: at most SFU_SDP_MAX_BYTES, "v=0"
 * first, printable ASCII lines of "<letter>=<value>" ending in CRLF or LF (at most
 * SFU_SDP_MAX_LINE bytes, SFU_SDP_MAX_LINES lines, SFU_SDP_MAX_MLINES m-lines), every
 * "a=candidate:" line a well-formed candidate, and then accepted by GStreamer's parser with
 * version 0. NULL with SFU_ERROR_INVALID_SDP otherwise. */
GstSDPMessage *sfu_sdp_parse_answer(const char *sdp, gsize len, GError **error);

/* Does `answer` fit the relay's `offer`: as many m-lines (at least one), the same kinds in the
 * same order, and every m-line not rejected (port 0) with ICE credentials and a DTLS fingerprint
 * (its own or the session's)? FALSE with SFU_ERROR_INVALID_SDP otherwise. webrtcbin checks
 * more, asynchronously. */
gboolean sfu_sdp_answer_fits(const GstSDPMessage *offer, const GstSDPMessage *answer,
                             GError **error);

/* Is `candidate` a well-formed ICE candidate attribute (RFC 8839 §5.1, RFC 6544 for TCP), with
 * or without "a=": "candidate:" foundation (1-32 ice-chars), component (1-256), transport (UDP or
 * TCP), priority (0-2^32-1), address (1-255 of [A-Za-z0-9.:-]: IPv4, IPv6, a host or mDNS
 * name), port (0-65535), "typ" host/srflx/prflx/relay, then at most 16 extension name/value
 * pairs (raddr, rport, tcptype, generation, ufrag, network-id, network-cost, ...), single spaces,
 * printable ASCII, at most SFU_SDP_MAX_CANDIDATE bytes. FALSE with SFU_ERROR_INVALID otherwise. */
gboolean sfu_sdp_check_candidate(const char *candidate, GError **error);
