package io.sluice.gateway.ingest;

import com.google.protobuf.DescriptorProtos.FieldDescriptorProto;
import com.google.protobuf.DescriptorProtos.FieldDescriptorProto.Label;
import com.google.protobuf.DescriptorProtos.FieldDescriptorProto.Type;
import com.google.protobuf.DescriptorProtos.FieldOptions;
import com.google.protobuf.DescriptorProtos.FileDescriptorProto;
import com.google.protobuf.Descriptors;
import com.google.protobuf.DynamicMessage;
import com.google.protobuf.Message;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static io.sluice.gateway.ingest.PrometheusWrites.message;
import static io.sluice.gateway.ingest.PrometheusWrites.repeated;
import static io.sluice.gateway.ingest.PrometheusWrites.scalar;

/**
 * Prometheus remote_write 2.0 requests as a Prometheus server sends them: {@code io.prometheus.write.v2.Request}
 * messages built with protobuf-java from the schema of Prometheus' published
 * {@code prompb/io/prometheus/write/v2/types.proto} (declared here field by field with their numbers and types, and
 * serialised by protobuf-java's {@link DynamicMessage}), with a symbol table as Prometheus builds it: the empty
 * string first, then every string once, in the order it is first used; snappy-compressed as
 * {@link PrometheusWrites#snappy} does. {@code labels_refs} is packed, as proto3 packs repeated scalars.
 */
public final class PrometheusWritesV2 {

    /** The Content-Type a 2.0 sender sends. */
    public static final String CONTENT_TYPE = "application/x-protobuf;proto=io.prometheus.write.v2.Request";

    private static final Descriptors.FileDescriptor FILE = file();
    static final Descriptors.Descriptor REQUEST = FILE.findMessageTypeByName("Request");
    static final Descriptors.Descriptor TIME_SERIES = FILE.findMessageTypeByName("TimeSeries");
    static final Descriptors.Descriptor SAMPLE = FILE.findMessageTypeByName("Sample");
    static final Descriptors.Descriptor EXEMPLAR = FILE.findMessageTypeByName("Exemplar");
    static final Descriptors.Descriptor HISTOGRAM = FILE.findMessageTypeByName("Histogram");
    static final Descriptors.Descriptor METADATA = FILE.findMessageTypeByName("Metadata");

    private PrometheusWritesV2() {
    }

    private static Descriptors.FileDescriptor file() {
        FieldDescriptorProto packedRefs = FieldDescriptorProto.newBuilder().setName("labels_refs").setNumber(1)
                .setType(Type.TYPE_UINT32).setLabel(Label.LABEL_REPEATED)
                .setOptions(FieldOptions.newBuilder().setPacked(true)).build();
        FieldDescriptorProto exemplarRefs = packedRefs.toBuilder().build();
        FileDescriptorProto proto = FileDescriptorProto.newBuilder()
                .setName("io/prometheus/write/v2/types.proto").setPackage("io.prometheus.write.v2").setSyntax("proto3")
                .addMessageType(message("Sample", scalar("value", 1, Type.TYPE_DOUBLE),
                        scalar("timestamp", 2, Type.TYPE_INT64)))
                .addMessageType(message("Exemplar", exemplarRefs, scalar("value", 2, Type.TYPE_DOUBLE),
                        scalar("timestamp", 3, Type.TYPE_INT64)))
                .addMessageType(message("Metadata", scalar("type", 1, Type.TYPE_INT32),
                        scalar("help_ref", 3, Type.TYPE_UINT32), scalar("unit_ref", 4, Type.TYPE_UINT32)))
                .addMessageType(message("Histogram", scalar("count_int", 1, Type.TYPE_UINT64),
                        scalar("sum", 3, Type.TYPE_DOUBLE), scalar("schema", 4, Type.TYPE_SINT32),
                        scalar("timestamp", 15, Type.TYPE_INT64)))
                .addMessageType(message("TimeSeries", packedRefs,
                        repeated("samples", 2, ".io.prometheus.write.v2.Sample"),
                        repeated("histograms", 3, ".io.prometheus.write.v2.Histogram"),
                        repeated("exemplars", 4, ".io.prometheus.write.v2.Exemplar"),
                        FieldDescriptorProto.newBuilder().setName("metadata").setNumber(5).setType(Type.TYPE_MESSAGE)
                                .setTypeName(".io.prometheus.write.v2.Metadata").setLabel(Label.LABEL_OPTIONAL).build(),
                        scalar("created_timestamp", 6, Type.TYPE_INT64)))
                .addMessageType(message("Request",
                        FieldDescriptorProto.newBuilder().setName("symbols").setNumber(4).setType(Type.TYPE_STRING)
                                .setLabel(Label.LABEL_REPEATED).build(),
                        repeated("timeseries", 5, ".io.prometheus.write.v2.TimeSeries")))
                .build();
        try {
            return Descriptors.FileDescriptor.buildFrom(proto, new Descriptors.FileDescriptor[0]);
        } catch (Descriptors.DescriptorValidationException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A Request under construction. */
    public static Request request() {
        return new Request();
    }

    public static final class Request {
        private final Map<String, Integer> symbols = new LinkedHashMap<>(Map.of("", 0));
        private final List<Message> series = new ArrayList<>();

        /** The index of {@code s} in the symbol table, added on first use. */
        int ref(String s) {
            return symbols.computeIfAbsent(s, k -> symbols.size());
        }

        /** Adds a series: labels as alternating names and values ({@code __name__} included), then its samples. */
        public Series series(String... labelKeyValues) {
            Series s = new Series(this);
            for (int i = 0; i < labelKeyValues.length; i += 2) {
                s.refs(ref(labelKeyValues[i]), ref(labelKeyValues[i + 1]));
            }
            return s;
        }

        public Message build() {
            DynamicMessage.Builder b = DynamicMessage.newBuilder(REQUEST);
            for (String s : symbols.keySet()) {
                b.addRepeatedField(REQUEST.findFieldByName("symbols"), s);
            }
            for (Message s : series) {
                b.addRepeatedField(REQUEST.findFieldByName("timeseries"), s);
            }
            return b.build();
        }

        /** The serialised Request, uncompressed. */
        public byte[] protobuf() {
            return build().toByteArray();
        }

        /** The body a Prometheus server sends: the serialised Request, snappy block compressed. */
        public byte[] body() {
            return PrometheusWrites.snappy(protobuf());
        }
    }

    public static final class Series {
        private final Request request;
        private final DynamicMessage.Builder builder = DynamicMessage.newBuilder(TIME_SERIES);

        Series(Request request) {
            this.request = request;
        }

        /** Appends raw label references (also ones the symbol table does not hold). */
        public Series refs(int... refs) {
            for (int r : refs) {
                builder.addRepeatedField(TIME_SERIES.findFieldByName("labels_refs"), r);
            }
            return this;
        }

        public Series sample(long timestampMs, double value) {
            builder.addRepeatedField(TIME_SERIES.findFieldByName("samples"), DynamicMessage.newBuilder(SAMPLE)
                    .setField(SAMPLE.findFieldByName("value"), value)
                    .setField(SAMPLE.findFieldByName("timestamp"), timestampMs).build());
            return this;
        }

        public Series exemplar(long timestampMs, double value, String traceId) {
            builder.addRepeatedField(TIME_SERIES.findFieldByName("exemplars"), DynamicMessage.newBuilder(EXEMPLAR)
                    .addRepeatedField(EXEMPLAR.findFieldByName("labels_refs"), request.ref("trace_id"))
                    .addRepeatedField(EXEMPLAR.findFieldByName("labels_refs"), request.ref(traceId))
                    .setField(EXEMPLAR.findFieldByName("value"), value)
                    .setField(EXEMPLAR.findFieldByName("timestamp"), timestampMs).build());
            return this;
        }

        public Series histogram(long timestampMs, long count, double sum) {
            builder.addRepeatedField(TIME_SERIES.findFieldByName("histograms"), DynamicMessage.newBuilder(HISTOGRAM)
                    .setField(HISTOGRAM.findFieldByName("count_int"), count)
                    .setField(HISTOGRAM.findFieldByName("sum"), sum)
                    .setField(HISTOGRAM.findFieldByName("schema"), 3)
                    .setField(HISTOGRAM.findFieldByName("timestamp"), timestampMs).build());
            return this;
        }

        /** Metadata (type 1 = counter) with help and unit, and a created timestamp: both skipped by Sluice. */
        public Series metadata(String help, String unit, long createdMs) {
            builder.setField(TIME_SERIES.findFieldByName("metadata"), DynamicMessage.newBuilder(METADATA)
                    .setField(METADATA.findFieldByName("type"), 1)
                    .setField(METADATA.findFieldByName("help_ref"), request.ref(help))
                    .setField(METADATA.findFieldByName("unit_ref"), request.ref(unit)).build());
            builder.setField(TIME_SERIES.findFieldByName("created_timestamp"), createdMs);
            return this;
        }

        /** Ends this series; back to its request. */
        public Request end() {
            request.series.add(builder.build());
            return request;
        }
    }
}
