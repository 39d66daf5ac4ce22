package io.sluice.gateway.ingest;

/**
 * A name syntax of the form {@code [first][rest]*} over ASCII classes (metric names, label names, event types),
 * checked character by character: a regular expression matcher per label was a twentieth of JSON ingest's CPU.
 * {@link #pattern()} is the syntax as a regular expression, for messages (and for the tests, which hold the checks
 * to it). The one place these syntaxes are checked: ingest, alert routes and the Prometheus API call it.
 */
public enum NameSyntax {
    METRIC(Admission.METRIC_NAME_SYNTAX, "_:", "_:."),
    LABEL(Admission.LABEL_NAME_SYNTAX, "_", "_"),
    EVENT_TYPE(Admission.EVENT_TYPE_SYNTAX, "_", "_.:-");

    private final String pattern;
    /** Characters besides letters a name may start with. */
    private final String firstExtra;
    /** Characters besides letters and digits the rest of a name may hold. */
    private final String restExtra;

    NameSyntax(String pattern, String firstExtra, String restExtra) {
        this.pattern = pattern;
        this.firstExtra = firstExtra;
        this.restExtra = restExtra;
    }

    /** The syntax as a regular expression. */
    public String pattern() {
        return pattern;
    }

    /** Whether the whole of {@code name} has this syntax (an empty name has not). */
    public boolean matches(String name) {
        int n = name.length();
        if (n == 0) {
            return false;
        }
        char first = name.charAt(0);
        if (!letter(first) && firstExtra.indexOf(first) < 0) {
            return false;
        }
        for (int i = 1; i < n; i++) {
            char c = name.charAt(i);
            if (!letter(c) && !(c >= '0' && c <= '9') && restExtra.indexOf(c) < 0) {
                return false;
            }
        }
        return true;
    }

    private static boolean letter(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    }
}
