// Test helper: opens the embedded store in the directory given as the first
// argument and reports one witness-second at a time, saving after each,
// until it is killed. Prints the total after each save.
#include "store/embeddedstore.h"

#include <QCoreApplication>

#include <cstdio>

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    if (argc < 2) {
        std::fprintf(stderr, "usage: collective-store-writer DATA_DIR\n");
        return 2;
    }

    collective::EmbeddedStore store(QString::fromLocal8Bit(argv[1]));
    store.open();
    std::printf("opened\n");
    std::fflush(stdout);

    for (qint64 total = 1;; ++total) {
        collective::NodeReport report;
        report.addedSeconds = 1;
        report.liveWitnesses = total % 7;
        store.report(report);
        std::printf("%lld\n", total);
        std::fflush(stdout);
        // Results are delivered through the event loop; drain them so the
        // queue does not grow while the loop runs.
        QCoreApplication::processEvents();
    }
}
