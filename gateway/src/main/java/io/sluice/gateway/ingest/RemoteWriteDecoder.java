package io.sluice.gateway.ingest;

import com.google.protobuf.CodedInputStream;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.WireFormat;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.compression.DecompressionException;
import io.netty.handler.codec.compression.Snappy;
import io.sluice.config.IngestConfig;
import io.sluice.protocol.record.Series;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Decodes a Prometheus remote_write body (snappy-compressed, block format) into samples, and hands each series and
 * sample to {@link Admission}. Two messages, picked by the request's {@code Content-Type} ({@link Version}):
 *
 * <pre>
 * 1.0: WriteRequest { repeated TimeSeries timeseries = 1; repeated MetricMetadata metadata = 3; }
 *      TimeSeries   { repeated Label labels = 1; repeated Sample samples = 2;
 *                     repeated Exemplar exemplars = 3; repeated Histogram histograms = 4; }
 *      Label        { string name = 1; string value = 2; }
 * 2.0: io.prometheus.write.v2.Request { repeated string symbols = 4; repeated TimeSeries timeseries = 5; }
 *      TimeSeries   { repeated uint32 labels_refs = 1; repeated Sample samples = 2; repeated Histogram histograms = 3;
 *                     repeated Exemplar exemplars = 4; Metadata metadata = 5; int64 created_timestamp = 6; }
 * both: Sample      { double value = 1; int64 timestamp = 2; }   // timestamp: epoch milliseconds
 * </pre>
 *
 * <p>In 2.0 a series' labels are pairs of indexes into the request's {@code symbols} (name, value, name, value…),
 * packed or not; the symbols may come before or after the series. A series whose {@code labels_refs} has an odd
 * length or names a symbol the request does not hold is refused ({@code invalid_label}), every sample of it;
 * its metadata and created timestamp are skipped.
 *
 * <p>The label {@code __name__} is the metric name, every other label a label; a label with an empty value is
 * left out (in Prometheus an empty value is the same as no label). Names and values then follow
 * {@link Admission}'s rules, as on every transport: label names are Prometheus' {@code [a-zA-Z_][a-zA-Z0-9_]*}
 * and may not start with {@code __} (Prometheus reserves those for internal use; a sender drops them before
 * sending). Values are any doubles: NaN (the staleness marker included) and ±Inf are samples like any other.
 * Each sample and each histogram is an item, numbered series by series (a series' samples, then its
 * histograms) from 0 in the order of the body; a series that
 * breaks a rule has all its samples refused with that reason. Histograms are refused
 * ({@code unsupported_histogram}); exemplars are dropped and only counted ({@link Decoded#exemplars()});
 * metadata is skipped. Fields the schema does not name (or of another wire type) are skipped, as protobuf
 * requires.
 *
 * <p>Refused whole ({@link MalformedBatchException}): a body whose snappy length header announces more than
 * {@code server.max-body-bytes} ({@code body_too_large}, checked before decompressing), that is not snappy
 * block format or does not decompress to exactly that length ({@code invalid_snappy}), that is not a
 * {@code WriteRequest} (truncated, a bad wire type, a string that is not UTF-8: {@code invalid_protobuf}), or
 * that holds more than {@code ingest.max-items-per-request} items ({@code too_many_items}). Stateless and
 * thread-safe.
 */
public final class RemoteWriteDecoder {

    private static final int WRITE_REQUEST_TIMESERIES = tag(1, WireFormat.WIRETYPE_LENGTH_DELIMITED);
    private static final int SERIES_LABELS = tag(1, WireFormat.WIRETYPE_LENGTH_DELIMITED);
    private static final int SERIES_SAMPLES = tag(2, WireFormat.WIRETYPE_LENGTH_DELIMITED);
    private static final int SERIES_EXEMPLARS = tag(3, WireFormat.WIRETYPE_LENGTH_DELIMITED);
    private static final int SERIES_HISTOGRAMS = tag(4, WireFormat.WIRETYPE_LENGTH_DELIMITED);
    private static final int LABEL_NAME = tag(1, WireFormat.WIRETYPE_LENGTH_DELIMITED);
    private static final int LABEL_VALUE = tag(2, WireFormat.WIRETYPE_LENGTH_DELIMITED);
    private static final int SAMPLE_VALUE = tag(1, WireFormat.WIRETYPE_FIXED64);
    private static final int SAMPLE_TIMESTAMP = tag(2, WireFormat.WIRETYPE_VARINT);
    private static final int REQUEST_V2_SYMBOLS = tag(4, WireFormat.WIRETYPE_LENGTH_DELIMITED);
    private static final int REQUEST_V2_TIMESERIES = tag(5, WireFormat.WIRETYPE_LENGTH_DELIMITED);
    private static final int SERIES_V2_LABELS_REFS_PACKED = tag(1, WireFormat.WIRETYPE_LENGTH_DELIMITED);
    private static final int SERIES_V2_LABELS_REF = tag(1, WireFormat.WIRETYPE_VARINT);
    private static final int SERIES_V2_HISTOGRAMS = tag(3, WireFormat.WIRETYPE_LENGTH_DELIMITED);
    private static final int SERIES_V2_EXEMPLARS = tag(4, WireFormat.WIRETYPE_LENGTH_DELIMITED);

    /** Which remote_write message a body holds. */
    public enum Version {
        /** remote_write 1.0: {@code prometheus.WriteRequest}. */
        V1("prometheus.WriteRequest"),
        /** remote_write 2.0: {@code io.prometheus.write.v2.Request}, labels as references into a symbol table. */
        V2("io.prometheus.write.v2.Request");

        private final String message;

        Version(String message) {
            this.message = message;
        }

        /** The protobuf message's full name, as the {@code proto} parameter of the Content-Type names it. */
        public String message() {
            return message;
        }
    }

    /** The label that carries the metric name. */
    public static final String METRIC_NAME_LABEL = "__name__";

    private final IngestConfig limits;
    private final long maxDecompressedBytes;
    private final Admission admission;
    /**
     * 1.0 series by their bytes ({@link SeriesCache}): a TimeSeries' run of {@code labels} fields, from its first tag to
     * the end of its last label (Prometheus sends the labels of a series first, together, and the same bytes every
     * time). A series whose labels do not form one run is decoded and not kept.
     */
    private final SeriesCache<Series> cache;

    /**
     * @param maxDecompressedBytes {@code server.max-body-bytes}: the same bound a gzip body has once decoded
     */
    public RemoteWriteDecoder(IngestConfig limits, long maxDecompressedBytes, Admission admission) {
        this.limits = limits;
        this.maxDecompressedBytes = maxDecompressedBytes;
        this.admission = admission;
        this.cache = new SeriesCache<>(limits.seriesCacheEntries());
    }

    /** Counts this decoder's series cache lookups under {@code format="remote_write"}. */
    public void register(io.micrometer.core.instrument.MeterRegistry registry) {
        cache.register(registry, "remote_write");
    }

    /** What a body held: its samples and refusals, and how many exemplars were dropped. */
    public record Decoded(ParsedBatch batch, long exemplars) {
    }

    /** Decodes a remote_write 1.0 {@code body} (not consumed, not released). */
    public Decoded decode(ByteBuf body) throws MalformedBatchException {
        return decode(body, Version.V1);
    }

    /** Decodes {@code body} (not consumed, not released), a message of {@code version}. */
    public Decoded decode(ByteBuf body, Version version) throws MalformedBatchException {
        ByteBuf raw = decompress(body); // a heap buffer whose array holds the body from index 0
        return version == Version.V1 ? parse(raw.array(), raw.readableBytes())
                : parseV2(raw.array(), raw.readableBytes(), version);
    }

    /** What a body in a direct buffer is copied into, and what it decompresses into: this thread's, reused. */
    private static final ScratchBytes COMPRESSED = new ScratchBytes(1 << 20);
    private static final ScratchBytes DECOMPRESSED = new ScratchBytes(1 << 20);

    // ---- snappy ----------------------------------------------------------------------------------

    /**
     * Decompresses {@code received} into an array ({@link #DECOMPRESSED}: this thread's, or one of its own for a body
     * beyond 1 MiB), wrapped from its index 0 in the buffer returned.
     */
    private ByteBuf decompress(ByteBuf received) throws MalformedBatchException {
        // Netty's snappy reads its input a byte at a time through the ByteBuf API, which on the pooled direct buffer
        // a request arrives in walks a chain of checks per byte; on a copy in a heap array it is an array access
        ByteBuf body = received;
        if (!received.hasArray()) {
            int n = received.readableBytes();
            byte[] copy = COMPRESSED.get(n);
            received.getBytes(received.readerIndex(), copy, 0, n);
            body = Unpooled.wrappedBuffer(copy, 0, n);
        }
        ByteBuf in = body.duplicate();
        long length = readLengthHeader(in);
        if (length > maxDecompressedBytes) {
            throw new MalformedBatchException("body_too_large", "the body decompresses to " + length
                    + " bytes, more than the " + maxDecompressedBytes + " allowed (server.max-body-bytes)");
        }
        if (length == 0) {
            if (in.isReadable()) {
                throw invalidSnappy("bytes follow an empty block");
            }
            return Unpooled.EMPTY_BUFFER;
        }
        // the output cannot grow past the announced length: a block that says less than it holds fails here
        ByteBuf out = Unpooled.wrappedBuffer(DECOMPRESSED.get((int) length), 0, (int) length).clear();
        // Netty's decoder is a streaming one: it waits, silently, for the rest of an unfinished element. So
        // the block goes in twice: all but its last byte, which must leave the output unfinished (a valid
        // block's last element needs its last byte; output already complete means bytes follow the block),
        // then what is left, which must finish it exactly
        Snappy snappy = new Snappy();
        ByteBuf head = body.slice(body.readerIndex(), body.readableBytes() - 1);
        ByteBuf tail;
        try {
            snappy.decode(head, out);
            if (out.writerIndex() == length) {
                throw invalidSnappy("bytes follow the end of the block");
            }
            tail = body.slice(body.readerIndex() + head.readerIndex(), body.readableBytes() - head.readerIndex());
            snappy.decode(tail, out);
        } catch (DecompressionException | IndexOutOfBoundsException | IllegalArgumentException e) {
            // IndexOutOfBounds: more output than announced; IllegalArgument: a literal whose 4-byte length is beyond
            // an int (Netty reads it as a negative length; found by RemoteWriteDecoderFuzzTest)
            throw invalidSnappy(e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage());
        }
        if (out.writerIndex() != length || tail.isReadable()) {
            throw invalidSnappy("the block is truncated: it holds " + out.writerIndex() + " of the " + length
                    + " bytes its header announces");
        }
        return out;
    }

    /** The uncompressed length that starts a snappy block: a varint of at most 32 bits. */
    private static long readLengthHeader(ByteBuf in) throws MalformedBatchException {
        long length = 0;
        for (int shift = 0; shift < 35; shift += 7) {
            if (!in.isReadable()) {
                throw invalidSnappy(shift == 0 ? "the body is empty" : "the length header is truncated");
            }
            int b = in.readByte();
            length |= (long) (b & 0x7f) << shift;
            if ((b & 0x80) == 0) {
                if (length > 0xffffffffL) {
                    break;
                }
                return length;
            }
        }
        throw invalidSnappy("the length header is not a 32-bit varint");
    }

    private static MalformedBatchException invalidSnappy(String why) {
        return new MalformedBatchException("invalid_snappy", "the body is not snappy block format "
                + "(Content-Encoding: snappy, as Prometheus sends it): " + why);
    }

    // ---- protobuf --------------------------------------------------------------------------------

    /** Decodes the {@code length} bytes that start {@code raw}, a 1.0 {@code WriteRequest}. */
    private Decoded parse(byte[] raw, int length) throws MalformedBatchException {
        CodedInputStream in = CodedInputStream.newInstance(raw, 0, length);
        Reader reader = new Reader(admission.now(), Version.V1);
        try {
            while (true) {
                int tag = in.readTag();
                if (tag == 0) {
                    break;
                }
                if (tag == WRITE_REQUEST_TIMESERIES) {
                    int limit = in.pushLimit(in.readRawVarint32());
                    reader.timeSeries(in, raw);
                    in.popLimit(limit);
                } else if (!in.skipField(tag)) {
                    throw invalidProtobuf("an end-group tag outside a group");
                }
            }
        } catch (InvalidProtocolBufferException e) {
            throw invalidProtobuf(e.getMessage());
        } catch (IOException e) {
            throw invalidProtobuf(e.toString());
        }
        return new Decoded(new ParsedBatch(reader.samples, List.of(), reader.rejections, reader.items), reader.exemplars);
    }

    /**
     * A 2.0 request: the symbols are read first, wherever they are in the body, and the series are then decoded in
     * body order.
     */
    private Decoded parseV2(byte[] raw, int rawLength, Version version) throws MalformedBatchException {
        Reader reader = new Reader(admission.now(), version);
        List<String> symbols = new ArrayList<>();
        List<int[]> series = new ArrayList<>(); // offset and length of each TimeSeries in raw
        try {
            CodedInputStream in = CodedInputStream.newInstance(raw, 0, rawLength);
            while (true) {
                int tag = in.readTag();
                if (tag == 0) {
                    break;
                }
                if (tag == REQUEST_V2_SYMBOLS) {
                    symbols.add(in.readStringRequireUtf8());
                } else if (tag == REQUEST_V2_TIMESERIES) {
                    int length = in.readRawVarint32();
                    if (length < 0 || length > rawLength - in.getTotalBytesRead()) {
                        throw invalidProtobuf(version, "a series is truncated");
                    }
                    series.add(new int[] {in.getTotalBytesRead(), length});
                    in.skipRawBytes(length);
                } else if (!in.skipField(tag)) {
                    throw invalidProtobuf(version, "an end-group tag outside a group");
                }
            }
            for (int[] s : series) {
                reader.timeSeriesV2(CodedInputStream.newInstance(raw, s[0], s[1]), symbols);
            }
        } catch (InvalidProtocolBufferException e) {
            throw invalidProtobuf(version, e.getMessage());
        } catch (IOException e) {
            throw invalidProtobuf(version, e.toString());
        }
        return new Decoded(new ParsedBatch(reader.samples, List.of(), reader.rejections, reader.items), reader.exemplars);
    }

    private static MalformedBatchException invalidProtobuf(String why) {
        return invalidProtobuf(Version.V1, why);
    }

    private static MalformedBatchException invalidProtobuf(Version version, String why) {
        return new MalformedBatchException("invalid_protobuf", "the body is not a protobuf " + version.message() + ": "
                + why);
    }

    private static int tag(int field, int wireType) {
        return field << 3 | wireType; // WireFormat.makeTag, which is not public
    }

    /** The state of one body's decoding; the sample buffers are reused from series to series. */
    private final class Reader {

        private final long now;
        private final Version version;
        private final List<ParsedBatch.Sample> samples = new ArrayList<>();
        private final List<Rejection> rejections = new ArrayList<>();
        private int items;
        private long exemplars;
        // the series being read
        private final List<String> labels = new ArrayList<>();
        private String name;
        private boolean nameTwice;
        private int count;
        private int histograms;
        private double[] values = new double[16];
        private long[] timestamps = new long[16];
        private int[] refs = new int[16];
        private int refCount;

        Reader(long now, Version version) {
            this.now = now;
            this.version = version;
        }

        private void startSeries() {
            labels.clear();
            name = null;
            nameTwice = false;
            count = 0;
            histograms = 0;
            refCount = 0;
        }

        /**
         * One 1.0 TimeSeries (the stream over {@code raw} is limited to it); its fields may come in any order. Its first
         * run of labels fields is looked up by its bytes in {@link #cache}; one found there is skipped, not decoded. A
         * labels field after that run makes the run only part of the labels: it is then decoded after all, and the
         * series not kept.
         */
        void timeSeries(CodedInputStream in, byte[] raw) throws IOException, MalformedBatchException {
            startSeries();
            int runStart = -1;
            int runEnd = -1;
            long hash = 0;
            Series cached = null;
            int tagStart = in.getTotalBytesRead();
            for (int tag = in.readTag(); tag != 0; tagStart = in.getTotalBytesRead(), tag = in.readTag()) {
                if (tag == SERIES_LABELS) {
                    if (runStart < 0 && cache.enabled()) {
                        runStart = tagStart;
                        runEnd = labelsRunEnd(raw, tagStart, in.getTotalBytesRead() + in.getBytesUntilLimit());
                        if (runEnd > runStart && cache.keeps(runEnd - runStart)) {
                            hash = SeriesCache.hash(raw, runStart, runEnd - runStart);
                            cached = cache.get(raw, runStart, runEnd - runStart, hash);
                            if (cached != null) {
                                in.skipRawBytes(runEnd - in.getTotalBytesRead());
                                continue;
                            }
                        }
                    } else if (runEnd >= 0 && tagStart >= runEnd) {
                        if (cached != null) { // decoded after all: the run's labels, then this one
                            cached = null;
                            CodedInputStream run = CodedInputStream.newInstance(raw, runStart, runEnd - runStart);
                            for (int t = run.readTag(); t != 0; t = run.readTag()) {
                                labelField(run);
                            }
                        }
                        runEnd = -1; // the labels are not one run: the series is not kept
                    }
                    labelField(in);
                } else if (tag == SERIES_SAMPLES) {
                    sample(in);
                } else if (tag == SERIES_HISTOGRAMS) {
                    histogram(in, tag);
                } else if (tag == SERIES_EXEMPLARS) {
                    exemplar(in, tag);
                } else {
                    skip(in, tag);
                }
            }
            if (cached != null) {
                finish(null, cached);
                return;
            }
            Refusal problem = seriesProblem();
            Series series = problem == null ? Series.of(name, labels.toArray(String[]::new)) : null;
            if (series != null && runEnd > runStart && cache.keeps(runEnd - runStart)) {
                cache.put(raw, runStart, runEnd - runStart, hash, series);
            }
            finish(problem, series);
        }

        /** One Label message of a 1.0 series, after its tag. */
        private void labelField(CodedInputStream in) throws IOException, MalformedBatchException {
            int limit = in.pushLimit(in.readRawVarint32());
            String labelName = "";
            String labelValue = "";
            for (int t = in.readTag(); t != 0; t = in.readTag()) {
                if (t == LABEL_NAME) {
                    labelName = in.readStringRequireUtf8();
                } else if (t == LABEL_VALUE) {
                    labelValue = in.readStringRequireUtf8();
                } else {
                    skip(in, t);
                }
            }
            in.popLimit(limit);
            label(labelName, labelValue);
        }

        /**
         * One 2.0 TimeSeries (the stream is limited to it), its labels looked up in {@code symbols}; its fields may
         * come in any order.
         */
        void timeSeriesV2(CodedInputStream in, List<String> symbols) throws IOException, MalformedBatchException {
            startSeries();
            for (int tag = in.readTag(); tag != 0; tag = in.readTag()) {
                if (tag == SERIES_V2_LABELS_REFS_PACKED) {
                    int limit = in.pushLimit(in.readRawVarint32());
                    while (in.getBytesUntilLimit() > 0) {
                        addRef(in.readUInt32());
                    }
                    in.popLimit(limit);
                } else if (tag == SERIES_V2_LABELS_REF) {
                    addRef(in.readUInt32());
                } else if (tag == SERIES_SAMPLES) {
                    sample(in);
                } else if (tag == SERIES_V2_HISTOGRAMS) {
                    histogram(in, tag);
                } else if (tag == SERIES_V2_EXEMPLARS) {
                    exemplar(in, tag);
                } else {
                    skip(in, tag);
                }
            }
            if (refCount % 2 != 0) {
                finish(new Refusal(Refusal.INVALID_LABEL, "labels_refs holds " + refCount
                        + " references, not name and value pairs"), null);
                return;
            }
            for (int i = 0; i < refCount; i += 2) {
                long nameRef = Integer.toUnsignedLong(refs[i]);
                long valueRef = Integer.toUnsignedLong(refs[i + 1]);
                if (nameRef >= symbols.size() || valueRef >= symbols.size()) {
                    finish(new Refusal(Refusal.INVALID_LABEL, "labels_refs refers to symbol "
                            + Math.max(nameRef, valueRef) + " but the request holds " + symbols.size() + " symbols"), null);
                    return;
                }
                label(symbols.get((int) nameRef), symbols.get((int) valueRef));
            }
            Refusal problem = seriesProblem();
            finish(problem, problem == null ? Series.of(name, labels.toArray(String[]::new)) : null);
        }

        /** A label of the series: {@code __name__} is its name; a label with an empty value is no label. */
        private void label(String labelName, String labelValue) {
            if (labelName.equals(METRIC_NAME_LABEL)) {
                nameTwice |= name != null;
                name = labelValue;
            } else if (!labelValue.isEmpty()) {
                labels.add(labelName);
                labels.add(labelValue);
            }
        }

        /** A histogram of the series: an item, refused when the series is finished. */
        private void histogram(CodedInputStream in, int tag) throws IOException, MalformedBatchException {
            in.skipField(tag);
            countItem();
            histograms++;
        }

        /** An exemplar of the series: dropped, counted. */
        private void exemplar(CodedInputStream in, int tag) throws IOException {
            in.skipField(tag);
            exemplars++;
        }

        /** A field the schema does not name, or of another wire type: skipped, as protobuf requires. */
        private void skip(CodedInputStream in, int tag) throws IOException, MalformedBatchException {
            if (!in.skipField(tag)) {
                throw invalidProtobuf(version, "an end-group tag outside a group");
            }
        }

        private void addRef(int ref) {
            if (refCount == refs.length) {
                refs = Arrays.copyOf(refs, refCount * 2);
            }
            refs[refCount++] = ref;
        }

        /** One Sample message of the series. */
        private void sample(CodedInputStream in) throws IOException, MalformedBatchException {
            int limit = in.pushLimit(in.readRawVarint32());
            double value = 0;
            long timestamp = 0;
            for (int t = in.readTag(); t != 0; t = in.readTag()) {
                if (t == SAMPLE_VALUE) {
                    value = in.readDouble();
                } else if (t == SAMPLE_TIMESTAMP) {
                    timestamp = in.readInt64();
                } else {
                    skip(in, t);
                }
            }
            in.popLimit(limit);
            countItem();
            if (count == values.length) {
                values = Arrays.copyOf(values, count * 2);
                timestamps = Arrays.copyOf(timestamps, count * 2);
            }
            values[count] = value;
            timestamps[count++] = timestamp;
        }

        /**
         * The series just read ({@code series}, null when {@code problem} is not): its samples (in the buffers) then its
         * histograms, numbered as the last items counted; all refused with {@code problem} when it is not null.
         */
        private void finish(Refusal problem, Series series) {
            int first = items - count - histograms;
            for (int i = 0; i < count; i++) {
                Refusal r = problem != null ? problem : admission.checkTimestamp(timestamps[i], now);
                if (r == null) {
                    samples.add(new ParsedBatch.Sample(first + i, series, timestamps[i], values[i]));
                } else {
                    rejections.add(Rejection.of(first + i, r));
                }
            }
            for (int i = 0; i < histograms; i++) {
                rejections.add(new Rejection(first + count + i, Refusal.UNSUPPORTED_HISTOGRAM,
                        "native histograms are not stored; send classic histograms (buckets as series)"));
            }
        }

        /**
         * Where the run of 1.0 labels fields starting at {@code start} in {@code raw} ends (each a one-byte tag, a
         * length and that many bytes, all before {@code limit}); -1 when one runs past the limit (the series does
         * not decode: it is left to the decoder to refuse).
         */
        private int labelsRunEnd(byte[] raw, int start, int limit) {
            int p = start;
            while (p < limit && raw[p] == SERIES_LABELS) {
                p++;
                long length = 0;
                for (int shift = 0; ; shift += 7) {
                    if (p >= limit || shift > 28) {
                        return -1;
                    }
                    byte b = raw[p++];
                    length |= (long) (b & 0x7f) << shift;
                    if (b >= 0) {
                        break;
                    }
                }
                if (length > limit - p) {
                    return -1;
                }
                p += (int) length;
            }
            return p;
        }

        private Refusal seriesProblem() {
            if (name == null) {
                return new Refusal(Refusal.MISSING_FIELD, "the series has no " + METRIC_NAME_LABEL + " label");
            }
            if (nameTwice) {
                return new Refusal(Refusal.INVALID_LABEL, "labels name '" + METRIC_NAME_LABEL + "' appears twice");
            }
            return admission.checkSeries(name, labels);
        }

        private void countItem() throws MalformedBatchException {
            if (++items > limits.maxItemsPerRequest()) {
                throw new MalformedBatchException("too_many_items", "more than " + limits.maxItemsPerRequest()
                        + " samples and histograms in one request (ingest.max-items-per-request); lower the sender's "
                        + "max_samples_per_send");
            }
        }
    }
}
