// libFuzzer target: REDIS_URL parsing. Any text must parse to a usable
// endpoint or be rejected with an error.
#include "config/redisendpoint.h"

#include <cstdint>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const QString text = QString::fromUtf8(reinterpret_cast<const char *>(data), qsizetype(size));
    QString error;
    const auto endpoint = collective::parseRedisUrl(text, &error);
    if (!endpoint) {
        if (error.isEmpty())
            std::abort();
        return 0;
    }
    const bool tcp = !endpoint->host.isEmpty() && endpoint->port > 0 && endpoint->socketPath.isEmpty();
    const bool unixSocket = endpoint->host.isEmpty() && !endpoint->socketPath.isEmpty();
    if ((!tcp && !unixSocket) || endpoint->database < 0 || endpoint->database > 15)
        std::abort();
    return 0;
}
