// The fan-out pass: frames queued together go out as one buffer, a welcome's
// version keeps a frame from witnesses who already have it, and frames that
// arrive mid-pass reach every connection once, in the order they were queued.
#include "connections/fanout.h"

#include <QMap>
#include <QRandomGenerator>
#include <QTest>

using namespace collective;

namespace {

// One-letter frames keep the expected buffers readable.
WireFrame frame(char letter, quint64 version)
{
    return WireFrame{QByteArray(1, letter), version};
}

// Runs passes the way WitnessHub::sendQueued does and returns each
// connection's writes. A frame of `arrivals` is queued after as many visits
// as its key, and joins a first pass or waits for the next call.
QList<QByteArrayList> runPasses(const QList<quint64> &welcomes, const QList<WireFrame> &queued,
                                const QMap<int, QList<WireFrame>> &arrivals)
{
    const std::size_t connections = std::size_t(welcomes.size());
    QList<QByteArrayList> writes(welcomes.size());
    FanoutPass pass(queued, connections);
    int visited = 0;
    for (;;) {
        bool first = true;
        QList<WireFrame> waiting;
        while (!pass.isEmpty()) {
            for (std::size_t index = 0; index < pass.end(); ++index) {
                if (first)
                    pass.join(arrivals.value(visited++), index, connections);
                else
                    waiting.append(arrivals.value(visited++));
                qsizetype count = 0;
                const QByteArrayView bytes = pass.bytesFor(index, welcomes[qsizetype(index)], &count);
                if (count > 0)
                    writes[qsizetype(index)].append(bytes.toByteArray());
            }
            pass = pass.next();
            first = false;
        }

        for (auto arrival = arrivals.lowerBound(visited); arrival != arrivals.cend(); ++arrival)
            waiting.append(arrival.value());
        if (waiting.isEmpty())
            return writes;
        visited = arrivals.lastKey() + 1;
        pass = FanoutPass(waiting, connections);
    }
}

} // namespace

class TestFanout : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void queuedTogetherOneWrite();
    void welcomeVersionFilters();
    void lateFrameOwedNextPass();
    void orderKeptOverPasses();
};

void TestFanout::queuedTogetherOneWrite()
{
    const QList<QByteArrayList> writes = runPasses({0, 0, 0}, {frame('T', 10), frame('E', 11)}, {});

    for (const QByteArrayList &connection : writes)
        QCOMPARE(connection, QByteArrayList{"TE"});
}

void TestFanout::welcomeVersionFilters()
{
    FanoutPass pass({frame('T', 10), frame('E', 11)}, 4);
    qsizetype count = -1;

    QCOMPARE(pass.bytesFor(0, 9, &count).toByteArray(), QByteArray("TE"));
    QCOMPARE(count, 2);
    QCOMPARE(pass.bytesFor(1, 10, &count).toByteArray(), QByteArray("E"));
    QCOMPARE(count, 1);
    QCOMPARE(pass.bytesFor(2, 11, &count).toByteArray(), QByteArray());
    QCOMPARE(count, 0);
    QVERIFY(pass.next().isEmpty());
}

void TestFanout::lateFrameOwedNextPass()
{
    // E arrives as the first pass reaches connection 4 of 10.
    FanoutPass pass({frame('T', 10)}, 10);
    qsizetype count = 0;
    for (std::size_t index = 0; index < 4; ++index)
        QCOMPARE(pass.bytesFor(index, 0, &count).toByteArray(), QByteArray("T"));
    pass.join({frame('E', 11)}, 4, 10);
    for (std::size_t index = 4; index < 10; ++index)
        QCOMPARE(pass.bytesFor(index, 0, &count).toByteArray(), QByteArray("TE"));

    FanoutPass owed = pass.next();
    QCOMPARE(owed.end(), std::size_t(4));
    for (std::size_t index = 0; index < 4; ++index)
        QCOMPARE(owed.bytesFor(index, 0, &count).toByteArray(), QByteArray("E"));
    QVERIFY(owed.next().isEmpty());
}

void TestFanout::orderKeptOverPasses()
{
    // Random arrival points over several passes: every connection gets each
    // frame newer than its welcome once, in the order of queueing.
    QRandomGenerator random(20261205);
    for (int trial = 0; trial < 300; ++trial) {
        const int connections = 1 + int(random.bounded(40));
        QList<quint64> welcomes;
        for (int index = 0; index < connections; ++index)
            welcomes.append(random.bounded(6));

        QList<WireFrame> queued{frame('a', 1 + random.bounded(6))};
        QMap<int, QList<WireFrame>> arrivals;
        QList<WireFrame> all = queued;
        const int late = int(random.bounded(6));
        for (int count = 0; count < late; ++count) {
            const WireFrame arriving = frame(char('b' + count), 1 + random.bounded(6));
            arrivals[int(random.bounded(connections * 2))].append(arriving);
        }
        for (const QList<WireFrame> &frames : std::as_const(arrivals))
            all.append(frames);

        const QList<QByteArrayList> writes = runPasses(welcomes, queued, arrivals);
        for (int index = 0; index < connections; ++index) {
            QByteArray expected;
            for (const WireFrame &frame : std::as_const(all)) {
                if (welcomes[index] < frame.version)
                    expected.append(frame.bytes);
            }
            const QByteArray received = writes[index].join();
            QVERIFY2(received == expected, qPrintable(QStringLiteral("trial %1, connection %2: got '%3', expected '%4'")
                                                              .arg(trial)
                                                              .arg(index)
                                                              .arg(QString::fromLatin1(received),
                                                                   QString::fromLatin1(expected))));
        }
    }
}

QTEST_APPLESS_MAIN(TestFanout)
#include "tst_fanout.moc"
