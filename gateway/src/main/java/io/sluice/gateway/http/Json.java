package io.sluice.gateway.http;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.exc.StreamConstraintsException;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufOutputStream;

import java.io.IOException;
import java.io.UncheckedIOException;

/**
 * Writes JSON straight into a pooled buffer with Jackson's streaming generator, and holds the limits every
 * JSON request body is read with.
 */
public final class Json {

    private static final JsonFactory FACTORY = JsonFactory.builder().build();
    /** Deepest nesting a request body may have; the API's bodies need 4 levels. */
    public static final int MAX_REQUEST_DEPTH = 16;
    /** Longest string in a request body, in characters. */
    public static final int MAX_REQUEST_STRING = 1 << 20;
    /** Longest number in a request body, in characters. */
    public static final int MAX_REQUEST_NUMBER = 1000;
    /** Parses request bodies within the limits above (a body is also limited by server.max-body-bytes). */
    public static final JsonFactory REQUESTS = JsonFactory.builder()
            .streamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(MAX_REQUEST_DEPTH)
                    .maxStringLength(MAX_REQUEST_STRING).maxNumberLength(MAX_REQUEST_NUMBER).build())
            .build();
    private static final java.util.regex.Pattern JACKSON_SETTING = java.util.regex.Pattern.compile(", from `[^`]*`");

    /** What writes one document. */
    @FunctionalInterface
    public interface Writer {
        void write(JsonGenerator json) throws IOException;
    }

    private Json() {
    }

    /**
     * What a request body broke, for an error message: Jackson's own words ("Document nesting depth (17)
     * exceeds the maximum allowed (16)") without the name of its setting. Such an exception has no location.
     */
    public static String describe(StreamConstraintsException e) {
        return JACKSON_SETTING.matcher(String.valueOf(e.getOriginalMessage())).replaceAll("");
    }

    /**
     * Where a string read from JSON is not well-formed UTF-16 (JSON's {@code "\\ud800"} escape reads as a
     * lone surrogate, which is no character and cannot be encoded as UTF-8), or -1 when it is.
     */
    public static int unpairedSurrogate(String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
                i++;
            } else if (Character.isSurrogate(c)) {
                return i;
            }
        }
        return -1;
    }

    /** A new buffer holding the document; the caller owns it. */
    public static ByteBuf write(ByteBufAllocator alloc, Writer writer) {
        return write(alloc, 256, writer);
    }

    /**
     * As {@link #write(ByteBufAllocator, Writer)}, into a buffer of about the document's size to begin with: a large
     * document is then not copied at every doubling of its buffer.
     */
    public static ByteBuf write(ByteBufAllocator alloc, int expectedBytes, Writer writer) {
        ByteBuf buf = alloc.buffer(Math.max(256, expectedBytes));
        try (JsonGenerator json = FACTORY.createGenerator((java.io.OutputStream) new ByteBufOutputStream(buf))) {
            writer.write(json);
        } catch (IOException | RuntimeException e) {
            buf.release();
            throw e instanceof IOException io ? new UncheckedIOException(io) : (RuntimeException) e;
        }
        return buf;
    }
}
