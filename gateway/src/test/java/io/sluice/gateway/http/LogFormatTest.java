package io.sluice.gateway.http;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.JsonEncoder;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.joran.JoranConfigurator;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.LoggingEvent;
import ch.qos.logback.core.ConsoleAppender;
import ch.qos.logback.core.encoder.Encoder;
import ch.qos.logback.core.status.Status;
import ch.qos.logback.core.status.StatusUtil;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import io.sluice.gateway.Main;
import org.junit.jupiter.api.Test;
import org.slf4j.event.KeyValuePair;

import java.io.IOException;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The production logging configuration ({@code gateway/src/main/resources/logback.xml}, which tests do not
 * otherwise use): JSON lines on stderr by default, readable text with {@code SLUICE_LOG_FORMAT=text}.
 */
class LogFormatTest {

    private static final String TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";

    @Test
    void byDefaultEachEventIsOneLineOfJsonWithTheTraceIdAndTheRequestFields() throws Exception {
        Encoder<ILoggingEvent> encoder = configuredEncoder(null);
        assertThat(encoder).isInstanceOf(JsonEncoder.class);

        String line = new String(encoder.encode(event(new IllegalStateException("boom\non two lines"))),
                StandardCharsets.UTF_8);
        assertThat(line).endsWith("\n");
        assertThat(line.indexOf('\n')).as("one line per event, newlines in messages escaped").isEqualTo(line.length() - 1);
        Map<String, Object> json = parse(line);
        assertThat(json).containsEntry("level", "WARN").containsEntry("loggerName", "sluice.request")
                .containsEntry("formattedMessage", "GET /api/v1/query 200 \"quoted\"\nsecond line")
                .containsKey("timestamp").containsKey("threadName");
        assertThat(json.get("mdc")).isEqualTo(Map.of("trace_id", TRACE));
        assertThat(json.get("kvpList")).isEqualTo(List.of(Map.of("status", "200"), Map.of("path", "/api/v1/query")));
        @SuppressWarnings("unchecked")
        Map<String, Object> throwable = (Map<String, Object>) json.get("throwable");
        assertThat(throwable).containsEntry("className", "java.lang.IllegalStateException")
                .containsEntry("message", "boom\non two lines");

        assertThat(parse(new String(encoder.encode(event(null)), StandardCharsets.UTF_8)))
                .containsEntry("formattedMessage", "GET /api/v1/query 200 \"quoted\"\nsecond line");
    }

    @Test
    void anUnknownFormatIsStillJson() throws Exception {
        assertThat(configuredEncoder("yaml")).isInstanceOf(JsonEncoder.class);
    }

    @Test
    void textIsOneReadableLineWithTheTraceIdAndTheFields() throws Exception {
        Encoder<ILoggingEvent> encoder = configuredEncoder("text");
        assertThat(encoder).isInstanceOf(PatternLayoutEncoder.class);
        String line = new String(encoder.encode(event(null)), StandardCharsets.UTF_8);
        assertThat(line).contains("WARN", "sluice.request", TRACE, "GET /api/v1/query 200", "status=\"200\"",
                "path=\"/api/v1/query\"");
    }

    /** The encoder of the root's {@code OUT} appender after configuring a fresh context from logback.xml. */
    private static Encoder<ILoggingEvent> configuredEncoder(String format) throws Exception {
        URL config = Main.class.getResource("/logback.xml");
        assertThat(config).isNotNull();
        LoggerContext context = new LoggerContext();
        if (format != null) {
            context.putProperty("SLUICE_LOG_FORMAT", format);
        }
        JoranConfigurator configurator = new JoranConfigurator();
        configurator.setContext(context);
        configurator.doConfigure(config);
        assertThat(new StatusUtil(context).getHighestLevel(0)).as("configuration errors: %s",
                context.getStatusManager().getCopyOfStatusList()).isLessThan(Status.WARN);
        var appender = context.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME).getAppender("OUT");
        assertThat(appender).isInstanceOf(ConsoleAppender.class);
        assertThat(((ConsoleAppender<ILoggingEvent>) appender).getTarget()).isEqualTo("System.err");
        return ((ConsoleAppender<ILoggingEvent>) appender).getEncoder();
    }

    private static ILoggingEvent event(Throwable thrown) {
        LoggerContext context = new LoggerContext();
        LoggingEvent event = new LoggingEvent(LogFormatTest.class.getName(), context.getLogger("sluice.request"),
                Level.WARN, "GET {} 200 \"quoted\"\nsecond line", thrown, new Object[]{"/api/v1/query"});
        event.setMDCPropertyMap(Map.of("trace_id", TRACE));
        event.addKeyValuePair(new KeyValuePair("status", 200));
        event.addKeyValuePair(new KeyValuePair("path", "/api/v1/query"));
        return event;
    }

    /** Parses one JSON document into maps, lists, strings, numbers, booleans and nulls; fails on anything else. */
    private static Map<String, Object> parse(String json) throws IOException {
        try (JsonParser parser = new JsonFactory().createParser(json)) {
            assertThat(parser.nextToken()).isEqualTo(JsonToken.START_OBJECT);
            @SuppressWarnings("unchecked")
            Map<String, Object> value = (Map<String, Object>) read(parser);
            assertThat(parser.nextToken()).as("nothing after the object").isNull();
            return value;
        }
    }

    private static Object read(JsonParser parser) throws IOException {
        return switch (parser.currentToken()) {
            case START_OBJECT -> {
                Map<String, Object> map = new LinkedHashMap<>();
                while (parser.nextToken() == JsonToken.FIELD_NAME) {
                    String name = parser.currentName();
                    parser.nextToken();
                    map.put(name, read(parser));
                }
                yield map;
            }
            case START_ARRAY -> {
                List<Object> list = new ArrayList<>();
                while (parser.nextToken() != JsonToken.END_ARRAY) {
                    list.add(read(parser));
                }
                yield list;
            }
            case VALUE_STRING -> parser.getText();
            case VALUE_NUMBER_INT, VALUE_NUMBER_FLOAT -> parser.getNumberValue();
            case VALUE_TRUE, VALUE_FALSE -> parser.getBooleanValue();
            case VALUE_NULL -> null;
            default -> throw new AssertionError("unexpected " + parser.currentToken());
        };
    }
}
