package io.sluice.gateway.links;

import io.sluice.gateway.server.NodeAddresses;

import java.net.URI;
import java.net.URISyntaxException;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * What a link may be: aliases match {@code [A-Za-z0-9_-]{3,64}}, are not reserved words and are not shaped
 * like generated codes; a destination is an absolute http(s) URL of at most {@value #MAX_URL_LENGTH}
 * characters, without control characters or whitespace, that does not point at this gateway.
 */
public final class LinkRules {

    public static final int MAX_URL_LENGTH = 2048;
    private static final int MIN_CODE = 3;
    private static final int MAX_CODE = 64;
    /** 7 or 8 letters and digits is the shape of generated codes; such aliases could collide with one. */
    private static final Pattern GENERATED_SHAPE = Pattern.compile("[A-Za-z0-9]{7,8}");
    public static final Set<String> RESERVED = Set.of("api", "health", "metrics", "admin", "static", "assets",
            "links", "login", "logout", "robots", "favicon", "sluice", "v1", "status", "docs");

    private final NodeAddresses self;

    /** @param self the addresses this node answers on, which links may not point at */
    public LinkRules(NodeAddresses self) {
        this.self = self;
    }

    /** Rules for a node known only by its base URL (and loopback on that URL's port). */
    public LinkRules(String baseUrl) {
        this(new NodeAddresses("127.0.0.1", baseUrl, List.of(), List.of()));
        self.listening(NodeAddresses.effectivePort(URI.create(baseUrl)));
    }

    /** Thrown with a message naming what is wrong; answered with 400. */
    public static final class InvalidLinkException extends RuntimeException {
        private static final long serialVersionUID = 1L;
        private final String code;

        InvalidLinkException(String code, String message) {
            super(message, null, false, false);
            this.code = code;
        }

        public String code() {
            return code;
        }
    }

    /**
     * Whether this can be a link's code: 3 to 64 of A-Z a-z 0-9 _ -. A loop rather than a regular
     * expression, because every redirect asks.
     */
    public static boolean isCode(String s) {
        int n = s.length();
        if (n < MIN_CODE || n > MAX_CODE) {
            return false;
        }
        for (int i = 0; i < n; i++) {
            char c = s.charAt(i);
            if (!(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-')) {
                return false;
            }
        }
        return true;
    }

    public void checkAlias(String alias) {
        if (!isCode(alias)) {
            throw new InvalidLinkException("invalid_alias", "alias: " + alias + " (expected: 3 to 64 of A-Z a-z 0-9 _ -)");
        }
        if (RESERVED.contains(alias.toLowerCase(Locale.ROOT))) {
            throw new InvalidLinkException("reserved_alias", "alias: " + alias + " is reserved");
        }
        if (GENERATED_SHAPE.matcher(alias).matches()) {
            throw new InvalidLinkException("invalid_alias", "alias: " + alias + " has the shape of generated codes "
                    + "(7 or 8 letters and digits); add a '-' or '_' or choose another length");
        }
    }

    /** Checks a destination and returns it in the ASCII form that goes into {@code Location}. */
    public String checkTarget(String url) {
        if (url == null || url.isEmpty()) {
            throw new InvalidLinkException("invalid_url", "url: missing (expected: an absolute http or https URL)");
        }
        if (url.length() > MAX_URL_LENGTH) {
            throw new InvalidLinkException("invalid_url", "url: " + url.length() + " characters (expected: at most "
                    + MAX_URL_LENGTH + ")");
        }
        for (int i = 0; i < url.length(); i++) {
            char c = url.charAt(i);
            if (c <= 0x20 || c == 0x7f || Character.isWhitespace(c) || Character.isISOControl(c)) {
                throw new InvalidLinkException("invalid_url", "url: contains a control or whitespace character at "
                        + "position " + i);
            }
        }
        URI uri;
        try {
            uri = new URI(url);
        } catch (URISyntaxException e) {
            throw new InvalidLinkException("invalid_url", "url: not a valid URL (" + e.getReason() + ")");
        }
        String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
        if (!uri.isAbsolute() || !(scheme.equals("http") || scheme.equals("https")) || uri.getHost() == null) {
            throw new InvalidLinkException("invalid_url", "url: " + url + " (expected: an absolute http or https URL "
                    + "with a host)");
        }
        if (uri.getRawUserInfo() != null) {
            throw new InvalidLinkException("invalid_url", "url: user information in a link is not allowed");
        }
        if (self.isThisNode(uri.getHost(), NodeAddresses.effectivePort(uri))) {
            throw new InvalidLinkException("invalid_url", "url: points at this gateway (" + uri.getHost() + ":"
                    + NodeAddresses.effectivePort(uri) + "), so following it would redirect to itself");
        }
        String ascii = uri.toASCIIString();
        if (ascii.length() > MAX_URL_LENGTH) {
            throw new InvalidLinkException("invalid_url", "url: longer than " + MAX_URL_LENGTH + " characters once encoded");
        }
        return ascii;
    }

    /**
     * Whether a stored target can go into {@code Location} as it is: non-empty printable ASCII, the form
     * {@link #checkTarget} returns.
     */
    public static boolean isLocationValue(String target) {
        if (target.isEmpty()) {
            return false;
        }
        for (int i = 0; i < target.length(); i++) {
            char c = target.charAt(i);
            if (c <= 0x20 || c >= 0x7f) {
                return false;
            }
        }
        return true;
    }

    public static int checkRedirect(int status) {
        if (status != 301 && status != 302 && status != 307 && status != 308) {
            throw new InvalidLinkException("invalid_redirect", "redirect: " + status + " (expected: 301, 302, 307 or 308)");
        }
        return status;
    }
}
