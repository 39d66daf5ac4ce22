package io.sluice.protocol.record;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.sluice.protocol.codec.Utf8Strings;
import io.sluice.protocol.codec.Varints;
import io.sluice.protocol.error.ErrorCode;
import io.sluice.protocol.error.ProtocolException;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Checks a whole records block and applies its series definitions to a dictionary: the one reader of the
 * record encoding that trusts nothing.
 *
 * <p>Both the frame decoder (BATCH payloads against the connection's dictionary) and the segment reader
 * (against a fresh dictionary) run it once; after it, {@link RecordCursor} walks the block without
 * checks beyond the buffer's own bounds checks. It allocates only for series definitions.
 */
public final class RecordBlocks {

    private RecordBlocks() {
    }

    /** Counts of a block that passed {@link #validate}. */
    public record Counts(int samples, int events) {
    }

    /**
     * Validates the readable bytes of {@code block} (indices are left unchanged) and appends its series
     * definitions to {@code dictionary}.
     *
     * @throws ProtocolException naming the problem: {@link ErrorCode#INVALID_RECORD} for malformed entries,
     *     {@link ErrorCode#LIMIT_EXCEEDED} for limits, {@link ErrorCode#FRAME_TOO_LARGE} for block size
     */
    public static Counts validate(ByteBuf block, SeriesDictionary dictionary, RecordLimits limits) {
        return validate(block, dictionary, limits, null);
    }

    /**
     * The same, taking a definition whose bytes equal one in {@code definitions} (may be null) as that series, and
     * adding every other one it reads to them. The verdict is the same with or without them.
     */
    public static Counts validate(ByteBuf block, SeriesDictionary dictionary, RecordLimits limits,
                                  SeriesDefinitions definitions) {
        if (block.readableBytes() > limits.maxBlockBytes()) {
            throw new ProtocolException(ErrorCode.FRAME_TOO_LARGE, "records block: " + block.readableBytes()
                    + " bytes (expected: <= " + limits.maxBlockBytes() + "; raise maxBlockBytes)");
        }
        if (block.readableBytes() < RecordFormat.HEADER_BYTES) {
            throw new ProtocolException(ErrorCode.INVALID_RECORD, "records block: " + block.readableBytes()
                    + " bytes (expected: >= " + RecordFormat.HEADER_BYTES + ")");
        }
        ByteBuf in = block.duplicate();
        ByteBuffer view = view(in);
        int viewShift = view.position() - in.readerIndex();
        long declaredSamples = in.readUnsignedInt();
        long declaredEvents = in.readUnsignedInt();
        in.skipBytes(Long.BYTES);
        if (declaredSamples + declaredEvents > limits.maxRecordsPerBlock()) {
            throw new ProtocolException(ErrorCode.LIMIT_EXCEEDED, "records: " + (declaredSamples + declaredEvents)
                    + " (expected: <= " + limits.maxRecordsPerBlock() + "; raise maxRecordsPerBlock)");
        }
        int samples = 0;
        int events = 0;
        int maxString = limits.maxStringBytes();
        int at = in.readerIndex() + viewShift;
        int end = in.writerIndex() + viewShift;
        while (at < end) {
            if (view.get(at) == RecordFormat.TAG_SAMPLE) {
                int next = sampleEnd(view, at + 1, end, dictionary.size());
                if (next >= 0) {
                    if (++samples > declaredSamples) {
                        throw countMismatch("samples", declaredSamples, samples);
                    }
                    at = next;
                    continue;
                }
            }
            // anything but a sound sample: read through the buffer, which says what is wrong
            in.readerIndex(at - viewShift);
            byte tag = in.readByte();
            switch (tag) {
                case RecordFormat.TAG_SAMPLE -> {
                    long id = Varints.readUnsigned(in);
                    if (id < 0 || id >= dictionary.size()) {
                        throw new ProtocolException(ErrorCode.INVALID_RECORD, "sample refers to series "
                                + Long.toUnsignedString(id) + " but " + dictionary.size() + " are defined");
                    }
                    Varints.readSigned(in);
                    if (in.readableBytes() < Double.BYTES) {
                        throw new ProtocolException(ErrorCode.INVALID_RECORD, "sample value is truncated");
                    }
                    in.skipBytes(Double.BYTES);
                    if (++samples > declaredSamples) {
                        throw countMismatch("samples", declaredSamples, samples);
                    }
                }
                case RecordFormat.TAG_SERIES -> readDefinition(in, dictionary, limits, definitions, view, viewShift);
                case RecordFormat.TAG_EVENT -> {
                    Varints.readSigned(in);
                    if (Utf8Strings.skip(in, maxString, "event id", ErrorCode.INVALID_RECORD) == 0) {
                        throw new ProtocolException(ErrorCode.INVALID_RECORD, "event id is empty");
                    }
                    if (Utf8Strings.skip(in, maxString, "event type", ErrorCode.INVALID_RECORD) == 0) {
                        throw new ProtocolException(ErrorCode.INVALID_RECORD, "event type is empty");
                    }
                    Utf8Strings.skip(in, maxString, "event key", ErrorCode.INVALID_RECORD);
                    int attrs = Varints.readBounded(in, limits.maxAttributesPerEvent(), "event attributes",
                            ErrorCode.LIMIT_EXCEEDED);
                    for (int i = 0; i < attrs; i++) {
                        Utf8Strings.skip(in, maxString, "attribute key", ErrorCode.INVALID_RECORD);
                        Utf8Strings.skip(in, maxString, "attribute value", ErrorCode.INVALID_RECORD);
                    }
                    if (++events > declaredEvents) {
                        throw countMismatch("events", declaredEvents, events);
                    }
                }
                default -> throw new ProtocolException(ErrorCode.INVALID_RECORD,
                        "unknown record tag 0x" + Integer.toHexString(tag & 0xFF));
            }
            at = in.readerIndex() + viewShift;
        }
        if (samples != declaredSamples) {
            throw countMismatch("samples", declaredSamples, samples);
        }
        if (events != declaredEvents) {
            throw countMismatch("events", declaredEvents, events);
        }
        return new Counts(samples, events);
    }

    private static ProtocolException countMismatch(String what, long declared, int found) {
        return new ProtocolException(ErrorCode.INVALID_RECORD,
                "header declares " + declared + " " + what + ", block holds " + (found > declared ? "more" : found));
    }

    private static void readDefinition(ByteBuf in, SeriesDictionary dictionary, RecordLimits limits,
                                       SeriesDefinitions definitions, ByteBuffer view, int viewShift) {
        long id = Varints.readUnsigned(in);
        if (id != dictionary.size()) {
            throw new ProtocolException(ErrorCode.INVALID_RECORD, "series definition has id "
                    + Long.toUnsignedString(id) + " (expected: " + dictionary.size() + ", the next id)");
        }
        if (dictionary.size() >= limits.maxSeriesPerDictionary()) {
            throw new ProtocolException(ErrorCode.LIMIT_EXCEEDED, "series: " + (dictionary.size() + 1)
                    + " (expected: <= " + limits.maxSeriesPerDictionary() + "; raise maxSeriesPerDictionary)");
        }
        int start = in.readerIndex();
        int maxString = limits.maxStringBytes();
        if (definitions != null) {
            int at = start + viewShift;
            int end = in.writerIndex() + viewShift;
            Series known = definitions.guess(view, at, end);
            if (known == null) {
                int length = definitionLength(view, at, end, maxString, limits.maxLabelsPerSeries());
                known = length < 0 ? null : definitions.find(view, at, length);
            }
            if (known != null) {
                in.skipBytes(known.definitionBytes());
                dictionary.add(known);
                return;
            }
        }
        String name = Utf8Strings.read(in, maxString, "metric name", ErrorCode.INVALID_RECORD);
        if (name.isEmpty()) {
            throw new ProtocolException(ErrorCode.INVALID_RECORD, "metric name is empty");
        }
        int n = Varints.readBounded(in, limits.maxLabelsPerSeries(), "labels", ErrorCode.LIMIT_EXCEEDED);
        String[] keys = new String[n];
        String[] values = new String[n];
        for (int i = 0; i < n; i++) {
            keys[i] = Utf8Strings.read(in, maxString, "label key", ErrorCode.INVALID_RECORD);
            values[i] = Utf8Strings.read(in, maxString, "label value", ErrorCode.INVALID_RECORD);
            if (keys[i].isEmpty()) {
                throw new ProtocolException(ErrorCode.INVALID_RECORD, "label key is empty in " + name);
            }
            if (i > 0 && Series.compareCodePoints(keys[i - 1], keys[i]) >= 0) {
                throw new ProtocolException(ErrorCode.INVALID_RECORD, "labels of " + name
                        + " are not in strictly ascending key order at \"" + keys[i] + "\"");
            }
        }
        byte[] encoded = ByteBufUtil.getBytes(in, start, in.readerIndex() - start);
        Series series = new Series(name, keys, values, encoded);
        if (definitions != null) {
            definitions.add(series);
        }
        dictionary.add(series);
    }

    /**
     * The length of the definition at {@code from} in a view of the block, from its structure alone (string lengths and
     * the label count, within the limits), or -1 when the structure is not sound: the full read then says why. Read with
     * absolute gets (a {@code ByteBuf} read walks a chain of calls and checks, and every sample of a segment may come
     * with its series' definition); never reads outside {@code [from, end)}.
     */
    static int definitionLength(ByteBuffer bytes, int from, int end, int maxString, int maxLabels) {
        int i = skipString(bytes, from, end, maxString);
        long labels = i < 0 ? -1 : varint(bytes, i, end);
        if (labels < 0 || (labels >>> 32) > maxLabels) {
            return -1;
        }
        i = (int) labels;
        for (long l = 0; l < 2 * (labels >>> 32) && i >= 0; l++) {
            i = skipString(bytes, i, end, maxString);
        }
        return i < 0 ? -1 : i - from;
    }

    /** The index after the length-prefixed string at {@code i}, or -1 when it is malformed, too long or cut short. */
    private static int skipString(ByteBuffer bytes, int i, int end, int maxString) {
        long length = varint(bytes, i, end);
        if (length < 0) {
            return -1;
        }
        int next = (int) length;
        long n = length >>> 32;
        return n > maxString || n > end - next ? -1 : next + (int) n;
    }

    /**
     * The index after the sample whose series id starts at {@code i} (after its tag), when the sample is sound: an id
     * below {@code defined} in at most four bytes, a timestamp varint of at most ten, eight bytes of value, varints
     * neither overlong nor past 64 bits. Otherwise -1, and the buffer read takes the sample and says what is wrong.
     * Read with absolute gets, as {@link #definitionLength}: every record of a block is checked, most are samples,
     * and a {@code ByteBuf} read of each varint walks a chain of calls and checks.
     */
    private static int sampleEnd(ByteBuffer bytes, int i, int end, int defined) {
        long id = varint(bytes, i, end);
        if (id < 0 || (id >>> 32) >= defined) {
            return -1;
        }
        int next = (int) id;
        if (next - i > 1 && bytes.get(next - 1) == 0) {
            return -1; // overlong
        }
        i = next;
        for (int n = 0; n < 10; n++) {
            if (i >= end) {
                return -1;
            }
            byte b = bytes.get(i++);
            if (b >= 0) {
                boolean sound = (b != 0 || n == 0) && (n < 9 || b <= 1);
                return sound && end - i >= Double.BYTES ? i + Double.BYTES : -1;
            }
        }
        return -1;
    }

    /**
     * The varint of at most four bytes at {@code i} (a length or a count, under 2^28), as {@code value << 32 | the
     * index after it}, or -1 when it is longer or cut short by {@code end}.
     */
    private static long varint(ByteBuffer bytes, int i, int end) {
        long value = 0;
        for (int shift = 0; shift <= 21; shift += 7) {
            if (i >= end) {
                return -1;
            }
            byte b = bytes.get(i++);
            value |= (long) (b & 0x7F) << shift;
            if (b >= 0) {
                return value << 32 | i;
            }
        }
        return -1;
    }

    /**
     * A view of {@code in}'s readable bytes for {@link #definitionLength}: {@code in}'s index {@code k} is the view's
     * {@code k + view.position() - r}, {@code r} being {@code in}'s reader index at the call. Bytes in more than one
     * region (a composite buffer; decoded blocks are not) are copied into one.
     */
    static ByteBuffer view(ByteBuf in) {
        ByteBuffer view = in.nioBufferCount() == 1 ? in.nioBuffer(in.readerIndex(), in.readableBytes())
                : ByteBuffer.wrap(ByteBufUtil.getBytes(in));
        // little-endian: the fingerprint's XXH64 reads it so, and would otherwise copy the view for each definition
        return view.order(ByteOrder.LITTLE_ENDIAN);
    }
}
