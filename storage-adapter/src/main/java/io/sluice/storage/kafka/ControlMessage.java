package io.sluice.storage.kafka;

import io.sluice.storage.invalidation.DataChange;

import java.net.URLDecoder;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * A message of the control topic, in a versioned, typed envelope (UTF-8 text) so that its kinds share the topic:
 * the first line is {@code sluice-control/1 <type>}, the rest the type's payload.
 * <ul>
 *   <li>{@code link}: the payload is a link code whose cached redirect every node drops ({@link LinkChanged});</li>
 *   <li>{@code writes}: one line per changed range, {@code <tenant>\t<metric>\t<fromMs>\t<toMs>}, tenant and metric
 *       URL-encoded, an empty metric meaning any metric of the tenant and an empty tenant every tenant
 *       ({@link DataWritten}).</li>
 * </ul>
 * The version-less form {@code link:<code>} of earlier releases is still read as {@code link}. A message of another
 * version or type, or one that does not parse, decodes to nothing: a node ignores what it does not know.
 */
public sealed interface ControlMessage {

    String HEADER = "sluice-control/";
    int VERSION = 1;

    /** A link was changed or deleted. */
    record LinkChanged(String code) implements ControlMessage {
    }

    /** A writer committed samples in these ranges. */
    record DataWritten(List<DataChange> changes) implements ControlMessage {
        public DataWritten {
            changes = List.copyOf(changes);
        }
    }

    /** The message as the control topic carries it. */
    static String encode(ControlMessage message) {
        StringBuilder out = new StringBuilder(HEADER).append(VERSION).append(' ');
        if (message instanceof LinkChanged link) {
            out.append("link\n").append(link.code());
        } else if (message instanceof DataWritten written) {
            out.append("writes");
            for (DataChange c : written.changes()) {
                out.append('\n').append(c.tenant() == null ? "" : enc(c.tenant())).append('\t')
                        .append(c.metric() == null ? "" : enc(c.metric())).append('\t')
                        .append(c.fromMs()).append('\t').append(c.toMs());
            }
        }
        return out.toString();
    }

    /** The message, or empty for one of another version or type, or that does not parse. */
    static Optional<ControlMessage> decode(String text) {
        if (text.startsWith("link:")) {
            return Optional.of(new LinkChanged(text.substring("link:".length())));
        }
        if (!text.startsWith(HEADER)) {
            return Optional.empty();
        }
        int lineEnd = text.indexOf('\n');
        String header = lineEnd < 0 ? text : text.substring(0, lineEnd);
        String body = lineEnd < 0 ? "" : text.substring(lineEnd + 1);
        String[] versionAndType = header.substring(HEADER.length()).split(" ", 2);
        if (versionAndType.length != 2 || !versionAndType[0].equals(Integer.toString(VERSION))) {
            return Optional.empty();
        }
        try {
            return switch (versionAndType[1]) {
                case "link" -> body.isEmpty() ? Optional.empty() : Optional.of(new LinkChanged(body));
                case "writes" -> Optional.of(new DataWritten(changes(body)));
                default -> Optional.empty();
            };
        } catch (IllegalArgumentException e) {
            return Optional.empty();
        }
    }

    private static List<DataChange> changes(String body) {
        List<DataChange> changes = new ArrayList<>();
        if (body.isEmpty()) {
            return changes;
        }
        for (String line : body.split("\n")) {
            String[] f = line.split("\t", -1);
            if (f.length != 4) {
                throw new IllegalArgumentException("a writes line has 4 fields: " + line);
            }
            changes.add(new DataChange(f[0].isEmpty() ? null : dec(f[0]), f[1].isEmpty() ? null : dec(f[1]),
                    Long.parseLong(f[2]), Long.parseLong(f[3])));
        }
        return changes;
    }

    private static String enc(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8);
    }

    private static String dec(String s) {
        return URLDecoder.decode(s, StandardCharsets.UTF_8);
    }
}
