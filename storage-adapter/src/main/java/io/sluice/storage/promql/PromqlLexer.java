package io.sluice.storage.promql;

import java.util.ArrayList;
import java.util.List;

/** Splits a PromQL expression into tokens, as Prometheus' lexer does (numbers, durations, strings, names, operators). */
final class PromqlLexer {

    enum Kind {
        NUMBER, DURATION, STRING, IDENT, OP, EOF
    }

    /**
     * One token.
     *
     * @param text     the identifier, operator or string contents (escapes resolved)
     * @param number   a NUMBER's value
     * @param duration a DURATION's length in milliseconds
     * @param pos      offset of the token in the expression
     */
    record Token(Kind kind, String text, double number, long duration, int pos) {
        boolean is(String op) {
            return (kind == Kind.OP) && text.equals(op);
        }

        boolean isKeyword(String word) {
            return kind == Kind.IDENT && text.equalsIgnoreCase(word);
        }

        String describe() {
            return switch (kind) {
                case EOF -> "end of input";
                case STRING -> "string \"" + text + "\"";
                case NUMBER -> "number \"" + text + "\"";
                case DURATION -> "duration \"" + text + "\"";
                case IDENT -> "identifier \"" + text + "\"";
                case OP -> "\"" + text + "\"";
            };
        }
    }

    private static final String[] OPERATORS = {"==", "!=", ">=", "<=", "=~", "!~", "+", "-", "*", "/", "%", "^", ">",
            "<", "=", "(", ")", "{", "}", "[", "]", ",", ":", "@"};

    private final String in;
    private int pos;
    private int brackets;

    private PromqlLexer(String in) {
        this.in = in;
    }

    static List<Token> tokens(String expr) {
        PromqlLexer lexer = new PromqlLexer(expr);
        List<Token> out = new ArrayList<>();
        Token t;
        do {
            t = lexer.next();
            out.add(t);
        } while (t.kind() != Kind.EOF);
        return out;
    }

    static PromqlException error(String expr, int pos, String message) {
        int line = 1;
        int col = 1;
        for (int i = 0; i < pos && i < expr.length(); i++) {
            if (expr.charAt(i) == '\n') {
                line++;
                col = 1;
            } else {
                col++;
            }
        }
        return new PromqlException(PromqlException.ErrorType.BAD_DATA, line + ":" + col + ": parse error: " + message);
    }

    private PromqlException error(int at, String message) {
        return error(in, at, message);
    }

    private Token next() {
        while (pos < in.length()) {
            char c = in.charAt(pos);
            if (c == '#') {
                while (pos < in.length() && in.charAt(pos) != '\n') {
                    pos++;
                }
            } else if (Character.isWhitespace(c)) {
                pos++;
            } else {
                break;
            }
        }
        if (pos >= in.length()) {
            return new Token(Kind.EOF, "", 0, 0, pos);
        }
        int start = pos;
        char c = in.charAt(pos);
        if (c == '"' || c == '\'' || c == '`') {
            return new Token(Kind.STRING, string(c), 0, 0, start);
        }
        if (isDigit(c) || (c == '.' && pos + 1 < in.length() && isDigit(in.charAt(pos + 1)))) {
            return numberOrDuration();
        }
        if (c == ':' && brackets > 0) {
            pos++;
            return new Token(Kind.OP, ":", 0, 0, start);
        }
        if (isIdentStart(c)) {
            while (pos < in.length() && isIdentPart(in.charAt(pos))) {
                pos++;
            }
            String word = in.substring(start, pos);
            if (word.equalsIgnoreCase("inf")) {
                return new Token(Kind.NUMBER, word, Double.POSITIVE_INFINITY, 0, start);
            }
            if (word.equalsIgnoreCase("nan")) {
                return new Token(Kind.NUMBER, word, Double.NaN, 0, start);
            }
            return new Token(Kind.IDENT, word, 0, 0, start);
        }
        for (String op : OPERATORS) {
            if (in.startsWith(op, pos)) {
                pos += op.length();
                if (op.equals("[")) {
                    brackets++;
                } else if (op.equals("]") && brackets > 0) {
                    brackets--;
                }
                return new Token(Kind.OP, op, 0, 0, start);
            }
        }
        throw error(start, "unexpected character: '" + c + "'");
    }

    private Token numberOrDuration() {
        int start = pos;
        if (in.startsWith("0x", pos) || in.startsWith("0X", pos)) {
            pos += 2;
            while (pos < in.length() && Character.digit(in.charAt(pos), 16) >= 0) {
                pos++;
            }
            String text = in.substring(start, pos);
            if (text.length() == 2) {
                throw error(start, "bad number or duration syntax: \"" + text + "\"");
            }
            // any number of digits, as Go's ParseFloat takes them (beyond a double's range: +Inf)
            return new Token(Kind.NUMBER, text, new java.math.BigInteger(text.substring(2), 16).doubleValue(), 0, start);
        }
        while (pos < in.length() && isDigit(in.charAt(pos))) {
            pos++;
        }
        boolean integer = true;
        if (pos < in.length() && in.charAt(pos) == '.') {
            integer = false;
            pos++;
            while (pos < in.length() && isDigit(in.charAt(pos))) {
                pos++;
            }
        }
        if (pos < in.length() && (in.charAt(pos) == 'e' || in.charAt(pos) == 'E')) {
            int save = pos;
            pos++;
            if (pos < in.length() && (in.charAt(pos) == '+' || in.charAt(pos) == '-')) {
                pos++;
            }
            if (pos < in.length() && isDigit(in.charAt(pos))) {
                integer = false;
                while (pos < in.length() && isDigit(in.charAt(pos))) {
                    pos++;
                }
            } else {
                pos = save;
            }
        }
        if (integer && pos < in.length() && "smhdwy".indexOf(in.charAt(pos)) >= 0) {
            pos = start;
            return duration();
        }
        if (pos < in.length() && isAlnum(in.charAt(pos))) {
            while (pos < in.length() && isAlnum(in.charAt(pos))) {
                pos++;
            }
            throw error(start, "bad number or duration syntax: \"" + in.substring(start, pos) + "\"");
        }
        String text = in.substring(start, pos);
        return new Token(Kind.NUMBER, text, Double.parseDouble(text), 0, start);
    }

    private static final String[] UNITS = {"y", "w", "d", "h", "m", "s", "ms"};
    private static final long[] UNIT_MS = {365L * 86_400_000, 7L * 86_400_000, 86_400_000, 3_600_000, 60_000, 1000, 1};

    private Token duration() {
        int start = pos;
        long total = 0;
        int lastUnit = -1;
        while (pos < in.length() && isDigit(in.charAt(pos))) {
            int numStart = pos;
            while (pos < in.length() && isDigit(in.charAt(pos))) {
                pos++;
            }
            long n;
            try {
                n = Long.parseLong(in.substring(numStart, pos));
            } catch (NumberFormatException e) {
                throw durationOutOfRange(start);
            }
            int unit = -1;
            if (in.startsWith("ms", pos)) {
                unit = 6;
            } else if (pos < in.length()) {
                for (int u = 0; u < 6; u++) {
                    if (in.charAt(pos) == UNITS[u].charAt(0)) {
                        unit = u;
                    }
                }
            }
            if (unit < 0 || unit <= lastUnit) {
                while (pos < in.length() && isAlnum(in.charAt(pos))) {
                    pos++;
                }
                throw error(start, "bad number or duration syntax: \"" + in.substring(start, pos) + "\"");
            }
            pos += UNITS[unit].length();
            lastUnit = unit;
            try {
                total = Math.addExact(total, Math.multiplyExact(n, UNIT_MS[unit]));
            } catch (ArithmeticException e) {
                throw durationOutOfRange(start);
            }
        }
        if (pos < in.length() && isAlnum(in.charAt(pos))) {
            while (pos < in.length() && isAlnum(in.charAt(pos))) {
                pos++;
            }
            throw error(start, "bad number or duration syntax: \"" + in.substring(start, pos) + "\"");
        }
        return new Token(Kind.DURATION, in.substring(start, pos), 0, total, start);
    }

    private PromqlException durationOutOfRange(int start) {
        int end = start;
        while (end < in.length() && isAlnum(in.charAt(end))) {
            end++;
        }
        return error(start, "duration out of range: \"" + in.substring(start, end) + "\" is longer than "
                + Long.MAX_VALUE + " ms");
    }

    /**
     * A quoted string, with Go's escapes. Like Go, {@code \x} and octal escapes write bytes: bytes that do not form
     * valid UTF-8 come out as the lone surrogates U+DC80..U+DCFF (as Python's surrogateescape), which no label name
     * or value accepts and {@link #goQuote} writes back as {@code \xNN}.
     */
    private String string(char quote) {
        int start = pos;
        pos++;
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        while (true) {
            if (pos >= in.length()) {
                throw error(start, "unterminated quoted string " + quote);
            }
            int c = in.codePointAt(pos);
            pos += Character.charCount(c);
            if (c == quote) {
                return decodeUtf8(out.toByteArray());
            }
            if (quote != '`' && c == '\n') {
                throw error(start, "unterminated quoted string " + quote);
            }
            if (c != '\\' || quote == '`') {
                utf8(out, c);
                continue;
            }
            if (pos >= in.length()) {
                throw error(start, "unterminated quoted string " + quote);
            }
            char e = in.charAt(pos++);
            switch (e) {
                case 'a' -> out.write(7);
                case 'b' -> out.write('\b');
                case 'f' -> out.write('\f');
                case 'n' -> out.write('\n');
                case 'r' -> out.write('\r');
                case 't' -> out.write('\t');
                case 'v' -> out.write(11);
                case '\\' -> out.write('\\');
                case '\'', '"' -> {
                    if (e != quote) {
                        throw error(pos - 2, "unknown escape sequence \\" + e);
                    }
                    out.write(e);
                }
                case 'x' -> out.write(hex(2, 16));
                case 'u' -> utf8(out, hex(4, 16));
                case 'U' -> utf8(out, hex(8, 16));
                default -> {
                    if (e >= '0' && e <= '7') {
                        pos--;
                        int v = hex(3, 8);
                        if (v > 255) {
                            throw error(pos - 4, "octal escape value > 255: " + v);
                        }
                        out.write(v);
                    } else {
                        throw error(pos - 2, "unknown escape sequence \\" + e);
                    }
                }
            }
        }
    }

    private static void utf8(java.io.ByteArrayOutputStream out, int codePoint) {
        byte[] b = new String(Character.toChars(codePoint)).getBytes(java.nio.charset.StandardCharsets.UTF_8);
        out.write(b, 0, b.length);
    }

    /** Decodes UTF-8, each byte that is not part of a valid sequence becoming U+DC80..U+DCFF. */
    static String decodeUtf8(byte[] b) {
        StringBuilder out = new StringBuilder(b.length);
        int i = 0;
        while (i < b.length) {
            int lead = b[i] & 0xFF;
            int len = lead < 0x80 ? 1 : lead >= 0xC2 && lead < 0xE0 ? 2 : lead >= 0xE0 && lead < 0xF0 ? 3
                    : lead >= 0xF0 && lead < 0xF5 ? 4 : 0;
            int cp = -1;
            if (len == 1) {
                cp = lead;
            } else if (len > 1 && i + len <= b.length) {
                cp = lead & (0xFF >> (len + 1));
                for (int k = 1; k < len && cp >= 0; k++) {
                    int cb = b[i + k] & 0xFF;
                    cp = (cb & 0xC0) == 0x80 ? (cp << 6) | (cb & 0x3F) : -1;
                }
                int min = len == 2 ? 0x80 : len == 3 ? 0x800 : 0x10000;
                if (cp < min || cp > Character.MAX_CODE_POINT || (cp >= 0xD800 && cp < 0xE000)) {
                    cp = -1;
                }
            }
            if (cp < 0) {
                out.append((char) (0xDC00 + lead));
                i++;
            } else {
                out.appendCodePoint(cp);
                i += len;
            }
        }
        return out.toString();
    }

    /** Whether a string came from valid UTF-8 (no byte escaped as a lone surrogate, see {@link #string}). */
    static boolean isValidUtf8(String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
                i++;
            } else if (Character.isSurrogate(c)) {
                return false;
            }
        }
        return true;
    }

    /** A string quoted as Go's {@code %q} writes it (for error messages that quote names as Prometheus does). */
    static String goQuote(String s) {
        StringBuilder out = new StringBuilder("\"");
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '"' || c == '\\') {
                out.append('\\').append(c);
            } else if (c >= 0xDC80 && c <= 0xDCFF && !(i > 0 && Character.isHighSurrogate(s.charAt(i - 1)))) {
                out.append(String.format("\\x%02x", c - 0xDC00));
            } else if (c == '\n') {
                out.append("\\n");
            } else if (c == '\t') {
                out.append("\\t");
            } else if (c < 0x20 || c == 0x7F) {
                out.append(String.format("\\x%02x", (int) c));
            } else {
                out.append(c);
            }
        }
        return out.append('"').toString();
    }

    private int hex(int digits, int radix) {
        if (pos + digits > in.length()) {
            throw error(pos, "illegal character in escape sequence");
        }
        int v = 0;
        for (int i = 0; i < digits; i++) {
            int d = Character.digit(in.charAt(pos + i), radix);
            if (d < 0) {
                throw error(pos + i, "illegal character in escape sequence");
            }
            v = v * radix + d;
        }
        pos += digits;
        if (v > Character.MAX_CODE_POINT || (v >= 0xD800 && v < 0xE000)) {
            throw error(pos - digits, "escape sequence is an invalid Unicode code point");
        }
        return v;
    }

    private static boolean isDigit(char c) {
        return c >= '0' && c <= '9';
    }

    private static boolean isIdentStart(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    }

    private static boolean isAlnum(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || isDigit(c);
    }

    private static boolean isIdentPart(char c) {
        return isIdentStart(c) || isDigit(c);
    }
}
