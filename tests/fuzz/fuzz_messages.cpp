// libFuzzer target: the lobby payload decoders the kiosk runs on whatever a
// server sends. Any JSON object must decode or be rejected with an error.
#include "protocol/messages.h"

#include <QJsonDocument>

#include <cstdint>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    using namespace collective::protocol;
    const QJsonObject payload =
            QJsonDocument::fromJson(QByteArray(reinterpret_cast<const char *>(data), qsizetype(size))).object();

    QString error;
    if (!decodeWelcome(payload, &error) && error.isEmpty())
        std::abort();
    error.clear();
    if (!decodeTick(payload, &error) && error.isEmpty())
        std::abort();
    error.clear();
    if (!decodePresence(payload, &error) && error.isEmpty())
        std::abort();
    error.clear();
    if (!decodeEvolution(payload, &error) && error.isEmpty())
        std::abort();
    return 0;
}
