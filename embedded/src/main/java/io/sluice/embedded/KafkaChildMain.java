package io.sluice.embedded;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.lang.reflect.Method;

/**
 * The main class of the embedded broker's child JVM: formats the KRaft storage if needed, then runs
 * {@code kafka.Kafka}.
 *
 * <p>The parent keeps the child's standard input open and never writes to it. When the parent dies, by
 * any means including {@code kill -9}, the pipe closes and this process exits, so a broker never
 * outlives the program that started it.
 *
 * <p>Arguments: {@code server.properties cluster-id}.
 */
public final class KafkaChildMain {

    private KafkaChildMain() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 2) {
            System.err.println("usage: KafkaChildMain server.properties cluster-id");
            System.exit(2);
        }
        watchParent();
        String properties = args[0];
        String clusterId = args[1];

        Class<?> storageTool = Class.forName("kafka.tools.StorageTool");
        Method execute = storageTool.getMethod("execute", String[].class, PrintStream.class);
        int formatted = (int) execute.invoke(null, new String[] {"format", "--ignore-formatted", "-t", clusterId,
                "-c", properties}, (Object) System.out);
        if (formatted != 0) {
            System.err.println("kafka storage format failed with exit code " + formatted);
            System.exit(formatted);
        }

        Class<?> kafka = Class.forName("kafka.Kafka");
        kafka.getMethod("main", String[].class).invoke(null, (Object) new String[] {properties});
    }

    private static void watchParent() {
        Thread watchdog = new Thread(() -> {
            InputStream in = System.in;
            try {
                while (in.read() >= 0) {
                    // the parent never writes; anything read is ignored
                }
            } catch (IOException ignored) {
                // a broken pipe means the same as end of input
            }
            System.err.println("parent process gone; stopping the embedded broker");
            // A clean shutdown gets 15 s; after that the JVM halts, so the broker cannot linger.
            new java.util.Timer("embedded-kafka-halt", true).schedule(new java.util.TimerTask() {
                @Override
                public void run() {
                    Runtime.getRuntime().halt(1);
                }
            }, 15_000);
            System.exit(0);
        }, "embedded-kafka-parent-watch");
        watchdog.setDaemon(true);
        watchdog.start();
    }
}
