// libFuzzer target: the WebSocket client frame reader. Any byte string must
// yield messages or one violation with the close code 1002, 1007 or 1009,
// never crash, and the outcome must not depend on how the bytes were split
// into reads. The first input byte picks the split point.
#include "websocket/framereader.h"

#include <QList>

#include <cstdint>
#include <cstdlib>

namespace {

struct Outcome
{
    QList<collective::websocket::Message> messages;
    int closeCode = 0;
};

Outcome readAll(const QList<QByteArrayView> &pieces)
{
    using namespace collective::websocket;
    FrameReader reader(1024);
    Outcome outcome;
    for (QByteArrayView piece : pieces) {
        const auto error = reader.read(piece, [&outcome](Message &&message) {
            outcome.messages.append(std::move(message));
            return true;
        });
        if (error) {
            outcome.closeCode = error->closeCode;
            break;
        }
    }
    return outcome;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const QByteArrayView bytes(reinterpret_cast<const char *>(data) + 1, qsizetype(size - 1));
    const qsizetype split = bytes.isEmpty() ? 0 : qsizetype(data[0]) % (bytes.size() + 1);

    const Outcome whole = readAll({bytes});
    const Outcome pieces = readAll({bytes.first(split), bytes.sliced(split)});

    if (whole.closeCode != 0 && whole.closeCode != 1002 && whole.closeCode != 1007 && whole.closeCode != 1009)
        std::abort();
    if (whole.closeCode != pieces.closeCode || whole.messages.size() != pieces.messages.size())
        std::abort();
    for (qsizetype i = 0; i < whole.messages.size(); ++i) {
        const auto &a = whole.messages[i];
        const auto &b = pieces.messages[i];
        if (a.kind != b.kind || a.payload != b.payload || a.closeCode != b.closeCode)
            std::abort();
        if (a.kind == collective::websocket::Message::Text && !collective::websocket::isValidUtf8(a.payload))
            std::abort();
    }
    return 0;
}
