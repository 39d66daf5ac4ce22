package io.sluice.config;

/** A tenant's service tier; it sizes the tenant's token buckets. */
public enum Tier {
    FREE, PAID, ENTERPRISE
}
