// libFuzzer target: the request-head parser of the opening handshake. Any
// byte string must parse or be rejected without crashing. A complete head
// must parse the same from exactly its own bytes, and the upgrade checks
// must run on it.
#include "websocket/handshake.h"

#include <cstdint>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    using namespace collective::websocket;
    const QByteArrayView bytes(reinterpret_cast<const char *>(data), qsizetype(size));

    RequestHead head;
    if (parseRequestHead(bytes, 2048, &head) != HeadStatus::Complete)
        return 0;
    if (head.size > bytes.size() || head.size > 2048)
        std::abort();

    RequestHead again;
    if (parseRequestHead(bytes.first(head.size), 2048, &again) != HeadStatus::Complete || again.size != head.size
        || again.target != head.target || again.headers != head.headers)
        std::abort();

    const UpgradeCheck check = checkUpgradeRequest(head);
    if (check.status != 0 && check.status != 400 && check.status != 426)
        std::abort();
    if (isUpgradeRequest(head) && check.status == 0 && switchingProtocolsResponse(head).isEmpty())
        std::abort();
    (void)head.path();
    (void)head.queryValue("vsn");
    return 0;
}
