// A fan-out pass: which broadcast frames each connection of a hub gets in
// one write, given its place in the hub's list and the board version of its
// welcome.
//
// Frames queued together reach a connection as one buffer, so a tick and
// the milestone announced with it cost one send(). A frame that arrives
// mid-pass joins it at the connection the pass has reached. The connections
// before that get it in the next pass, after what they already have, so
// every witness receives the frames once, in the order they were queued.
#pragma once

#include <QByteArray>
#include <QByteArrayView>
#include <QList>

#include <cstddef>
#include <vector>

namespace collective {

// A WebSocket frame for every joined witness whose welcome showed a board
// version older than `version`.
struct WireFrame
{
    QByteArray bytes;
    quint64 version = 0;
};

class FanoutPass
{
public:
    // A pass over connections [0, connections) with the frames queued
    // before it began.
    FanoutPass(const QList<WireFrame> &queued, std::size_t connections);

    bool isEmpty() const { return m_parts.empty(); }

    // The connections this pass visits: [0, end()).
    std::size_t end() const { return m_end; }

    // Adds frames that arrived while the pass was at connection `index`.
    void join(const QList<WireFrame> &late, std::size_t index, std::size_t connections);

    // Returns the bytes connection `index` gets, empty for none, and sets
    // *frames to how many frames they hold. Valid until the next call.
    QByteArrayView bytesFor(std::size_t index, quint64 welcomeVersion, qsizetype *frames);

    // Returns the pass that gives the connections what this one left owed.
    FanoutPass next() const;

private:
    struct Part
    {
        WireFrame frame;
        std::size_t from = 0; // this pass gives it to connections [from, to)
        std::size_t to = 0;
    };

    FanoutPass() = default;
    void joinAll();

    std::vector<Part> m_parts;
    std::size_t m_end = 0;
    QByteArray m_all;  // every part, for the connections that get them all
    QByteArray m_some; // the parts one connection gets, when not all
};

} // namespace collective
