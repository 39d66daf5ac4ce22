package io.sluice.storage.alerting;

import java.util.List;

/**
 * A rule (or rule file) Sluice refuses: every problem found, each naming its field ({@code expr: ...},
 * {@code groups[0].rules[2].for: ...}). An API answers it with 400 and the whole list.
 */
public final class InvalidRuleException extends IllegalArgumentException {

    private static final long serialVersionUID = 1L;

    private final String code;
    private final List<String> problems;

    /**
     * @param code     the API error code: {@code invalid_rule}, or {@code invalid_json} / {@code invalid_yaml} for a
     *                 body that is not a document at all
     * @param problems at least one
     */
    public InvalidRuleException(String code, List<String> problems) {
        super(String.join("; ", problems));
        if (problems.isEmpty()) {
            throw new IllegalArgumentException("no problem given");
        }
        this.code = code;
        this.problems = List.copyOf(problems);
    }

    public String code() {
        return code;
    }

    public List<String> problems() {
        return problems;
    }
}
