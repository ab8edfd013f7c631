/* sfu-sdp.h — small rewrites of the relay's own SDP offers before a browser sees them (private
 * to the sfu module; pure text, no GStreamer).
 *
 * webrtcbin 1.22 writes audio RED as "red/48000" with no format parameters and adds an audio
 * "ulpfec", which browsers refuse; Chrome speaks RED for Opus as "red/48000/2" with
 * "a=fmtp:<red> <opus>/<opus>" (RFC 2198 redundancy of the previous packet). Only the text sent
 * to the browser changes: the payload types stay the ones webrtcbin negotiates with. */
#pragma once

#include <glib.h>

/* (transfer full) `sdp` with the audio section's RED made browser-shaped for the Opus payload
 * `opus_pt`, its audio ulpfec removed, and RED listed first when `red_first` (the browser then
 * sends RED). `*red_pt` = RED's payload type, or -1 if the audio section has none (the text is
 * then returned unchanged). */
char *sfu_sdp_audio_red(const char *sdp, int opus_pt, gboolean red_first, int *red_pt);
