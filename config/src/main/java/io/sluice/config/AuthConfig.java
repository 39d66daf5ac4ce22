package io.sluice.config;

import java.time.Duration;

/**
 * How API key verdicts are cached: a valid key for {@code cacheTtl}, an unknown or revoked one for
 * {@code negativeTtl}, and a key's last valid verdict kept for {@code staleIfError} to authenticate it while
 * PostgreSQL cannot be reached.
 */
public record AuthConfig(Duration cacheTtl, Duration negativeTtl, Duration staleIfError) {
}
