package io.sluice.storage.alerting;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.SortedMap;
import java.util.TreeMap;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Alert annotation templates: each supported construct renders as Prometheus would, everything else is refused. */
class AlertTemplateTest {

    private static final SortedMap<String, String> LABELS = new TreeMap<>(
            java.util.Map.of("host", "web-1", "job", "api server", "bytes", "2048", "text", "abc"));

    private static String render(String template, double value) {
        return AlertTemplate.parse(template).render(LABELS, value);
    }

    @Test
    void plainTextIsUnchanged() {
        assertThat(render("disk almost full { not an action }", 1)).isEqualTo("disk almost full { not an action }");
        assertThat(render("", 1)).isEmpty();
    }

    @Test
    void labelsAndValueInBothSpellings() {
        assertThat(render("{{ $labels.host }} is at {{ $value }}", 0.5)).isEqualTo("web-1 is at 0.5");
        assertThat(render("{{.Labels.host}} is at {{.Value}}", 0.5)).isEqualTo("web-1 is at 0.5");
    }

    @Test
    void missingLabelRendersEmpty() {
        assertThat(render("[{{ $labels.nope }}]", 1)).isEqualTo("[]");
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "1|1", "0.1|0.1", "1e9|1000000000", "1.5e-7|0.00000015", "-2.25|-2.25", "123456789.125|123456789.125",
            "NaN|NaN", "Infinity|+Inf", "-Infinity|-Inf", "0|0", "-0.0|-0"})
    void valueRendersAsPlainShortestDecimal(String value, String expected) {
        assertThat(render("{{ $value }}", Double.parseDouble(value))).isEqualTo(expected);
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "humanize|0|0", "humanize|1234567|1.235M", "humanize|1000|1k", "humanize|999|999",
            "humanize|0.00123|1.23m", "humanize|-1500|-1.5k", "humanize|NaN|NaN", "humanize|Infinity|+Inf",
            "humanize|1e30|1e+06Y",
            "humanize1024|2048|2ki", "humanize1024|1|1", "humanize1024|1073741824|1Gi", "humanize1024|1500|1.465ki",
            "humanizePercentage|0.1234|12.34%", "humanizePercentage|1|100%",
            "humanizeDuration|0|0s", "humanizeDuration|1.5|1.5s", "humanizeDuration|90|1m 30s",
            "humanizeDuration|3661|1h 1m 1s", "humanizeDuration|90061|1d 1h 1m 1s", "humanizeDuration|0.25|250ms",
            "humanizeDuration|-90|-1m 30s"})
    void humanizeFunctionsMatchPrometheus(String function, String value, String expected) {
        double v = Double.parseDouble(value);
        assertThat(render("{{ $value | " + function + " }}", v)).isEqualTo(expected);
        assertThat(render("{{ " + function + " $value }}", v)).isEqualTo(expected);
    }

    @Test
    void humanizeReadsANumericLabel() {
        assertThat(render("{{ $labels.bytes | humanize1024 }}", 0)).isEqualTo("2ki");
    }

    @Test
    void humanizeOfANonNumericLabelIsAnExpansionError() {
        assertThat(render("x {{ humanize $labels.text }}", 0))
                .isEqualTo("<error expanding template: humanize: \"abc\" is not a number>");
    }

    @Test
    void caseFunctions() {
        assertThat(render("{{ $labels.host | toUpper }}", 0)).isEqualTo("WEB-1");
        assertThat(render("{{ toLower \"ABC\" }}", 0)).isEqualTo("abc");
        assertThat(render("{{ title .Labels.job }}", 0)).isEqualTo("Api Server");
        assertThat(render("{{ $value | humanize | toUpper }}", 1500)).isEqualTo("1.5K");
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "%.2f|3.14159|3.14", "%.0f|2.5|2", "%.2f|0.125|0.12", "%f|1.5|1.500000", "%d|41.6|42", "%5d|7|'    7'",
            "%-5d|7|'7    '", "%05.1f|-2.25|-02.2", "%+.1f|1|+1.0", "%e|123456|1.234560e+05", "%.2e|0.000123|1.23e-04",
            "%g|1000000|1e+06", "%g|123456|123456", "%.3g|3.14159|3.14", "%v|0.5|0.5", "%s|2|2",
            "%.2f|NaN|NaN", "%f|Infinity|+Inf", "%.1f|-Infinity|-Inf", "value %.1f%%|99.44|value 99.4%"})
    void printfOfTheValue(String format, String value, String expected) {
        double v = Double.parseDouble(value);
        assertThat(render("{{ printf \"" + format + "\" $value }}", v)).isEqualTo(expected);
        assertThat(render("{{ $value | printf \"" + format + "\" }}", v)).isEqualTo(expected);
    }

    @Test
    void printfOfStrings() {
        assertThat(render("{{ printf \"host=%s\" $labels.host }}", 0)).isEqualTo("host=web-1");
        assertThat(render("{{ printf \"[%8s]\" .Labels.host }}", 0)).isEqualTo("[   web-1]");
        assertThat(render("{{ printf \"%.3v\" $labels.host }}", 0)).isEqualTo("web");
        assertThat(render("{{ printf `%s!` `raw` }}", 0)).isEqualTo("raw!");
    }

    @Test
    void bracesInsideStringsDoNotEndTheAction() {
        assertThat(render("{{ printf \"{{%s}}\" $labels.host }}!", 0)).isEqualTo("{{web-1}}!");
        assertThat(render("{{ printf `}}%s` \"x\" }}", 0)).isEqualTo("}}x");
    }

    @Test
    void whitespaceTrimming() {
        assertThat(render("a   {{- $labels.host -}}  \n  b", 0)).isEqualTo("aweb-1b");
        assertThat(render("a {{- $value }} b", 3)).isEqualTo("a3 b");
        assertThat(render("a {{ $value -}}\n b", 3)).isEqualTo("a 3b");
    }

    @Test
    void renderingIsRepeatable() {
        AlertTemplate t = AlertTemplate.parse("{{ $labels.host }}={{ $value | humanize }}");
        assertThat(t.render(LABELS, 1e3)).isEqualTo("web-1=1k");
        assertThat(t.render(new TreeMap<>(java.util.Map.of("host", "db")), 2e6)).isEqualTo("db=2M");
        assertThat(t.source()).isEqualTo("{{ $labels.host }}={{ $value | humanize }}");
    }

    @ParameterizedTest
    @CsvSource(delimiterString = "::", value = {
            "unknown function::unknown function \"nope\" at position 13::{{ $value | nope }}",
            "unclosed::unclosed action at position 3::ab{{ $value",
            "if::\"if\" is not supported in alert templates at position 4::{{ if $value }}x{{ end }}",
            "range::\"range\" is not supported::{{ range $labels }}{{ end }}",
            "define::\"define\" is not supported::{{ define \"x\" }}{{ end }}",
            "variable::unknown variable \"$externalURL\"::{{ $externalURL }}",
            "bare labels::$labels must name a label ($labels.NAME) at position 4::{{ $labels }}",
            "bare .Labels::.Labels must name a label::{{ .Labels }}",
            "field::unknown field \".Annotations\"::{{ .Annotations.x }}",
            "dot::\".\" alone is not supported::{{ . }}",
            "empty::empty action at position 1::{{ }}",
            "comment::comments are not supported::{{/* c */}}",
            "verb::printf verb %x is not supported (supported: %d %f %.Nf %g %e %s %v)::{{ printf \"%x\" $value }}",
            "two verbs::more than one verb::{{ printf \"%d %d\" $value }}",
            "no verb::has no verb for its argument::{{ printf \"x\" $value }}",
            "printf args::printf takes a format string and 1 argument, got 3 arguments::{{ printf \"%s %s\" $value $value }}",
            "printf number of string::printf %f needs a number, got a string::{{ printf \"%.2f\" $labels.host }}",
            "format not literal::format must be a string literal::{{ printf $labels.host $value }}",
            "toUpper number::toUpper needs a string, got the number $value::{{ $value | toUpper }}",
            "arity::humanize takes 1 argument, got 2::{{ humanize $value $value }}",
            "arity none::humanize takes 1 argument, got 0::{{ humanize }}",
            "pipe into value::a value cannot take piped input::{{ $value | $value }}",
            "trailing pipe::missing command after |::{{ $value | }}",
            "junk::unexpected \"x\" (expected | or }})::{{ $value x }}",
            "unterminated string::unterminated string::{{ printf \"%s $value }}",
            "number::number literals are not supported::{{ 3 }}",
            "nested field::value has no fields::{{ $labels.host.x }}"})
    void refusedWithTheProblemAndPosition(String name, String message, String template) {
        assertThatThrownBy(() -> AlertTemplate.parse(template))
                .as(name)
                .isInstanceOf(AlertTemplate.InvalidTemplateException.class)
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(message)
                .hasMessageContaining("at position");
    }
}
