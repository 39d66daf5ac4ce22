package io.sluice.gateway.ingest;

import com.google.protobuf.DescriptorProtos.DescriptorProto;
import com.google.protobuf.DescriptorProtos.FieldDescriptorProto;
import com.google.protobuf.DescriptorProtos.FieldDescriptorProto.Label;
import com.google.protobuf.DescriptorProtos.FieldDescriptorProto.Type;
import com.google.protobuf.DescriptorProtos.FileDescriptorProto;
import com.google.protobuf.Descriptors;
import com.google.protobuf.DynamicMessage;
import com.google.protobuf.Message;
import org.xerial.snappy.Snappy;

import java.io.IOException;
import java.io.UncheckedIOException;

/**
 * Prometheus remote_write 1.0 requests as a Prometheus server sends them: {@code prometheus.WriteRequest}
 * messages built with protobuf-java from the schema of Prometheus' published {@code prompb/types.proto} and
 * {@code prompb/remote.proto} (declared here field by field with their numbers and types, and serialised by
 * protobuf-java's {@link DynamicMessage}, not by the decoder's author), compressed with snappy-java (the
 * reference C++ snappy, block format, as Go's {@code snappy.Encode} writes it).
 *
 * <p>Of {@code Histogram} only the fields the tests set are declared; the others would be unknown fields to
 * this schema and are irrelevant to a receiver that refuses histograms.
 */
public final class PrometheusWrites {

    private static final Descriptors.FileDescriptor FILE = file();
    static final Descriptors.Descriptor WRITE_REQUEST = FILE.findMessageTypeByName("WriteRequest");
    static final Descriptors.Descriptor TIME_SERIES = FILE.findMessageTypeByName("TimeSeries");
    static final Descriptors.Descriptor LABEL = FILE.findMessageTypeByName("Label");
    static final Descriptors.Descriptor SAMPLE = FILE.findMessageTypeByName("Sample");
    static final Descriptors.Descriptor EXEMPLAR = FILE.findMessageTypeByName("Exemplar");
    static final Descriptors.Descriptor HISTOGRAM = FILE.findMessageTypeByName("Histogram");
    static final Descriptors.Descriptor METADATA = FILE.findMessageTypeByName("MetricMetadata");

    /** The staleness marker Prometheus writes when a series disappears (value.StaleNaN). */
    public static final double STALE_NAN = Double.longBitsToDouble(0x7ff0000000000002L);

    private PrometheusWrites() {
    }

    private static Descriptors.FileDescriptor file() {
        FileDescriptorProto proto = FileDescriptorProto.newBuilder()
                .setName("prometheus/remote_and_types.proto").setPackage("prometheus").setSyntax("proto3")
                .addMessageType(message("MetricMetadata", scalar("type", 1, Type.TYPE_INT32),
                        scalar("metric_family_name", 2, Type.TYPE_STRING), scalar("help", 4, Type.TYPE_STRING),
                        scalar("unit", 5, Type.TYPE_STRING)))
                .addMessageType(message("Sample", scalar("value", 1, Type.TYPE_DOUBLE),
                        scalar("timestamp", 2, Type.TYPE_INT64)))
                .addMessageType(message("Exemplar", repeated("labels", 1, ".prometheus.Label"),
                        scalar("value", 2, Type.TYPE_DOUBLE), scalar("timestamp", 3, Type.TYPE_INT64)))
                .addMessageType(message("Histogram", scalar("count_int", 1, Type.TYPE_UINT64),
                        scalar("sum", 3, Type.TYPE_DOUBLE), scalar("schema", 4, Type.TYPE_SINT32),
                        scalar("timestamp", 15, Type.TYPE_INT64)))
                .addMessageType(message("Label", scalar("name", 1, Type.TYPE_STRING),
                        scalar("value", 2, Type.TYPE_STRING)))
                .addMessageType(message("TimeSeries", repeated("labels", 1, ".prometheus.Label"),
                        repeated("samples", 2, ".prometheus.Sample"), repeated("exemplars", 3, ".prometheus.Exemplar"),
                        repeated("histograms", 4, ".prometheus.Histogram")))
                .addMessageType(message("WriteRequest", repeated("timeseries", 1, ".prometheus.TimeSeries"),
                        repeated("metadata", 3, ".prometheus.MetricMetadata")))
                .build();
        try {
            return Descriptors.FileDescriptor.buildFrom(proto, new Descriptors.FileDescriptor[0]);
        } catch (Descriptors.DescriptorValidationException e) {
            throw new IllegalStateException(e);
        }
    }

    static DescriptorProto message(String name, FieldDescriptorProto... fields) {
        DescriptorProto.Builder b = DescriptorProto.newBuilder().setName(name);
        for (FieldDescriptorProto f : fields) {
            b.addField(f);
        }
        return b.build();
    }

    static FieldDescriptorProto scalar(String name, int number, Type type) {
        return FieldDescriptorProto.newBuilder().setName(name).setNumber(number).setType(type)
                .setLabel(Label.LABEL_OPTIONAL).build();
    }

    static FieldDescriptorProto repeated(String name, int number, String messageType) {
        return FieldDescriptorProto.newBuilder().setName(name).setNumber(number).setType(Type.TYPE_MESSAGE)
                .setTypeName(messageType).setLabel(Label.LABEL_REPEATED).build();
    }

    // ---- building ------------------------------------------------------------------------------------

    /** A WriteRequest under construction. */
    public static Request request() {
        return new Request();
    }

    public static final class Request {
        private final DynamicMessage.Builder builder = DynamicMessage.newBuilder(WRITE_REQUEST);

        /** Adds a series: labels as alternating names and values ({@code __name__} included), then its samples. */
        public Series series(String... labelKeyValues) {
            return new Series(this, labelKeyValues);
        }

        public Request metadata(String family, String help) {
            builder.addRepeatedField(WRITE_REQUEST.findFieldByName("metadata"), DynamicMessage.newBuilder(METADATA)
                    .setField(METADATA.findFieldByName("type"), 1)
                    .setField(METADATA.findFieldByName("metric_family_name"), family)
                    .setField(METADATA.findFieldByName("help"), help).build());
            return this;
        }

        public Message build() {
            return builder.build();
        }

        /** The serialised WriteRequest, uncompressed. */
        public byte[] protobuf() {
            return build().toByteArray();
        }

        /** The body a Prometheus server sends: the serialised WriteRequest, snappy block compressed. */
        public byte[] body() {
            return snappy(protobuf());
        }
    }

    public static final class Series {
        private final Request request;
        private final DynamicMessage.Builder builder = DynamicMessage.newBuilder(TIME_SERIES);

        Series(Request request, String... labelKeyValues) {
            this.request = request;
            for (int i = 0; i < labelKeyValues.length; i += 2) {
                builder.addRepeatedField(TIME_SERIES.findFieldByName("labels"), label(labelKeyValues[i], labelKeyValues[i + 1]));
            }
        }

        public Series sample(long timestampMs, double value) {
            builder.addRepeatedField(TIME_SERIES.findFieldByName("samples"), DynamicMessage.newBuilder(SAMPLE)
                    .setField(SAMPLE.findFieldByName("value"), value)
                    .setField(SAMPLE.findFieldByName("timestamp"), timestampMs).build());
            return this;
        }

        public Series exemplar(long timestampMs, double value, String traceId) {
            builder.addRepeatedField(TIME_SERIES.findFieldByName("exemplars"), DynamicMessage.newBuilder(EXEMPLAR)
                    .addRepeatedField(EXEMPLAR.findFieldByName("labels"), label("trace_id", traceId))
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

        /** Ends this series; back to its request. */
        public Request end() {
            request.builder.addRepeatedField(WRITE_REQUEST.findFieldByName("timeseries"), builder.build());
            return request;
        }
    }

    private static DynamicMessage label(String name, String value) {
        return DynamicMessage.newBuilder(LABEL).setField(LABEL.findFieldByName("name"), name)
                .setField(LABEL.findFieldByName("value"), value).build();
    }

    public static byte[] snappy(byte[] raw) {
        try {
            return Snappy.compress(raw);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The bytes of {@code parts} one after the other. */
    public static byte[] concat(byte[]... parts) {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        for (byte[] p : parts) {
            out.writeBytes(p);
        }
        return out.toByteArray();
    }
}
