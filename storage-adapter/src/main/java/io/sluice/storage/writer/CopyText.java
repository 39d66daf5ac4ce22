package io.sluice.storage.writer;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;

import java.util.Map;

/** Writes values in PostgreSQL's COPY text format (tab-separated, backslash escapes) into a buffer. */
final class CopyText {

    private CopyText() {
    }

    static void text(ByteBuf out, String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '\\' -> out.writeByte('\\').writeByte('\\');
                case '\t' -> out.writeByte('\\').writeByte('t');
                case '\n' -> out.writeByte('\\').writeByte('n');
                case '\r' -> out.writeByte('\\').writeByte('r');
                // PostgreSQL text cannot hold NUL; COPY would fail and stall the partition forever
                case '\0' -> out.writeByte(0xEF).writeByte(0xBF).writeByte(0xBD);
                default -> {
                    if (c < 0x80) {
                        out.writeByte(c);
                    } else {
                        int end = i + 1;
                        while (end < s.length() && s.charAt(end) >= 0x80) {
                            end++;
                        }
                        ByteBufUtil.writeUtf8(out, s.subSequence(i, end));
                        i = end - 1;
                    }
                }
            }
        }
    }

    static void number(ByteBuf out, long v) {
        ByteBufUtil.writeAscii(out, Long.toString(v));
    }

    static void number(ByteBuf out, double v) {
        ByteBufUtil.writeAscii(out, Double.toString(v));
    }

    static void tab(ByteBuf out) {
        out.writeByte('\t');
    }

    static void endRow(ByteBuf out) {
        out.writeByte('\n');
    }

    /** A JSON object of string values, then COPY-escaped. */
    static void jsonObject(ByteBuf out, Map<String, String> map) {
        StringBuilder json = new StringBuilder(16 + map.size() * 24).append('{');
        boolean first = true;
        for (Map.Entry<String, String> e : map.entrySet()) {
            if (!first) {
                json.append(',');
            }
            first = false;
            jsonString(json, e.getKey());
            json.append(':');
            jsonString(json, e.getValue());
        }
        text(out, json.append('}').toString());
    }

    private static void jsonString(StringBuilder json, String s) {
        json.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> json.append("\\\"");
                case '\\' -> json.append("\\\\");
                default -> {
                    if (c == 0) {
                        json.append('\uFFFD'); // jsonb refuses \u0000
                    } else if (c < 0x20) {
                        json.append(String.format("\\u%04x", (int) c));
                    } else {
                        json.append(c);
                    }
                }
            }
        }
        json.append('"');
    }
}
