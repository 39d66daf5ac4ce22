package io.sluice.gateway.auth;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.HexFormat;

/**
 * API key format and hashing. A key is {@code sk_} followed by 43 URL-safe base64 characters (256 random
 * bits); only its SHA-256 is stored.
 */
public final class ApiKeys {

    public static final String PREFIX = "sk_";
    /** Longest header value considered a key at all; anything longer is rejected before hashing. */
    public static final int MAX_KEY_LENGTH = 128;

    private static final SecureRandom RANDOM = new SecureRandom();
    private static final ThreadLocal<MessageDigest> SHA256 = ThreadLocal.withInitial(() -> {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
    });

    private ApiKeys() {
    }

    /** A new random key. */
    public static String generate() {
        byte[] bytes = new byte[32];
        RANDOM.nextBytes(bytes);
        return PREFIX + Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
    }

    /** SHA-256 of the key's UTF-8 bytes, lower-case hex. */
    public static String sha256(String key) {
        MessageDigest digest = SHA256.get();
        digest.reset();
        return HexFormat.of().formatHex(digest.digest(key.getBytes(StandardCharsets.UTF_8)));
    }

    /** The first characters of a key, safe to store and show. */
    public static String displayPrefix(String key) {
        return key.substring(0, Math.min(key.length(), PREFIX.length() + 6));
    }
}
