package dev.durian.interop;

import java.util.Properties;

/** Output and configuration helpers shared by the scenarios. */
final class Out {
    private Out() {}

    /**
     * Prints one line of facts. Synchronized because the group scenario
     * prints from two consumer threads, and a line must never interleave.
     */
    static synchronized void line(Object... words) {
        StringBuilder sb = new StringBuilder();
        for (Object word : words) {
            if (sb.length() > 0) {
                sb.append(' ');
            }
            sb.append(word);
        }
        System.out.println(sb);
        System.out.flush();
    }

    /**
     * An exception as one line: its class and message, then each cause's,
     * because the Java client wraps the interesting error (what the broker
     * answered) in ExecutionException or KafkaException.
     */
    static String describe(Throwable error) {
        StringBuilder sb = new StringBuilder();
        for (Throwable t = error; t != null; t = t.getCause()) {
            if (sb.length() > 0) {
                sb.append(" <- ");
            }
            sb.append(t.getClass().getName()).append(": ").append(t.getMessage());
            if (t.getCause() == t) {
                break;
            }
        }
        return sb.toString().replace('\n', ' ');
    }

    /** Client properties with the bootstrap address and the given pairs. */
    static Properties props(String bootstrap, String... pairs) {
        Properties props = new Properties();
        props.put("bootstrap.servers", bootstrap);
        for (int i = 0; i + 1 < pairs.length; i += 2) {
            props.put(pairs[i], pairs[i + 1]);
        }
        return props;
    }

    /** A positive deadline check: whether {@code deadlineNanos} has passed. */
    static boolean expired(long deadlineNanos) {
        return System.nanoTime() - deadlineNanos > 0;
    }

    /**
     * Waits until {@code condition} holds, checking it every 10 ms, for at
     * most {@code seconds}; returns whether it held.
     */
    static boolean await(int seconds, java.util.function.BooleanSupplier condition)
            throws InterruptedException {
        long deadline = deadline(seconds);
        while (!condition.getAsBoolean()) {
            if (expired(deadline)) {
                return false;
            }
            Thread.sleep(10);
        }
        return true;
    }

    /** The System.nanoTime() value {@code seconds} from now. */
    static long deadline(int seconds) {
        return System.nanoTime() + seconds * 1_000_000_000L;
    }
}
