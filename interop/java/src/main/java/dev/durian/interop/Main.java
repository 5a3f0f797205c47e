package dev.durian.interop;

import java.util.Arrays;

/**
 * Entry point of the Java interop programs: {@code Main SCENARIO BOOTSTRAP ARGS...}.
 *
 * <p>Each scenario drives Apache Kafka's Java client against a broker and
 * prints what it saw as one fact per line ({@code WORD value...}), which
 * interop/test_java.py parses and checks. A scenario does not judge the
 * broker itself beyond what it needs to go on: the test holds the
 * assertions, so a failure shows the client's view in full.
 */
public final class Main {
    private Main() {}

    /** Runs one scenario; exits 2 on a usage error. */
    public static void main(String[] args) throws Exception {
        if (args.length < 2) {
            usage();
            return;
        }
        String bootstrap = args[1];
        String[] rest = Arrays.copyOfRange(args, 2, args.length);
        switch (args[0]) {
            case "roundtrip" -> RoundTrip.run(bootstrap, rest);
            case "transactional" -> Transactional.run(bootstrap, rest);
            case "group" -> GroupOfTwo.run(bootstrap, rest);
            case "consumer-protocol" -> ConsumerProtocol.run(bootstrap, rest);
            case "consumer-group" -> ConsumerProtocolGroup.run(bootstrap, rest);
            case "admin" -> AdminTour.run(bootstrap, rest);
            case "admin-more" -> AdminMore.run(bootstrap, rest);
            case "admin-report" -> AdminReport.run(bootstrap, rest);
            default -> usage();
        }
    }

    private static void usage() {
        System.err.println("usage: Main roundtrip|transactional|group|consumer-protocol|consumer-group|admin|admin-more BOOTSTRAP ARGS...");
        System.exit(2);
    }
}
