// libFuzzer target: the Phoenix V2 frame decoder. Any byte string must
// decode or be rejected with a close code, never crash, and a decoded frame
// must encode and decode back to the same parts.
#include "protocol/frame.h"

#include <cstdint>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    using namespace collective::protocol;
    const QByteArray input(reinterpret_cast<const char *>(data), qsizetype(size));
    const DecodeResult result = decodeFrame(input, 4096);
    if (!result.isValid()) {
        const int code = int(closeCodeFor(result.error));
        if (code != 1007 && code != 1008 && code != 1009)
            std::abort();
        return 0;
    }

    const DecodeResult again = decodeFrame(encodeFrame(*result.frame), 1 << 20);
    if (!again.isValid() || again.frame->topic != result.frame->topic || again.frame->event != result.frame->event
        || again.frame->joinRef != result.frame->joinRef || again.frame->ref != result.frame->ref)
        std::abort();
    return 0;
}
