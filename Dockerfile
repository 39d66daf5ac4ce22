# Sluice gateway image. Untested here (no Docker engine on the development machines): kept correct by reading.
# Build:  docker build -t sluice .
# Run:    docker run -p 8080:8080 -e SLUICE_KAFKA_BOOTSTRAP_SERVERS=kafka:9092 -e SLUICE_POSTGRES_HOST=db sluice

FROM eclipse-temurin:17-jdk AS build
WORKDIR /src
COPY .mvn .mvn
COPY mvnw pom.xml ./
COPY protocol protocol
COPY config config
COPY embedded embedded
COPY storage-adapter storage-adapter
COPY gateway gateway
COPY dev dev
COPY loadtest loadtest
RUN ./mvnw -B -ntp -DskipTests -pl gateway -am package

FROM eclipse-temurin:17-jre
# /var/lib/sluice holds the spool (spool.dir in deploy/sluice.properties): owned by the user the image runs as,
# and a volume, so what was acknowledged into the spool survives a container being recreated. A named volume
# starts as a copy of this directory (owner included); a bind mount must be writable by uid 10001.
RUN groupadd --system --gid 10001 sluice \
 && useradd --system --uid 10001 --gid sluice --home-dir /opt/sluice --shell /usr/sbin/nologin sluice \
 && mkdir -p /var/lib/sluice/spool \
 && chown -R sluice:sluice /var/lib/sluice
WORKDIR /opt/sluice
COPY --from=build /src/gateway/target/lib/ /opt/sluice/lib/
COPY --from=build /src/gateway/target/sluice-gateway.jar /opt/sluice/sluice-gateway.jar
COPY deploy/sluice.properties /etc/sluice/sluice.properties
VOLUME ["/var/lib/sluice"]
USER sluice:sluice
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s \
  CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8080 && printf 'GET /health/live HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n' >&3 && grep -q '200' <&3"]
# -XX:-ClassUnloadingWithConcurrentMark -XX:MetaspaceSize=128m: classes are unloaded at a full GC only, and none is
# due until class metadata passes 128 MB; MALLOC_ARENA_MAX=2: fewer glibc arenas, less resident native memory (see
# bin/sluice for why)
ENV MALLOC_ARENA_MAX=2
ENTRYPOINT ["java", "-XX:MaxRAMPercentage=75", "-XX:+ExitOnOutOfMemoryError", "-XX:-ClassUnloadingWithConcurrentMark", \
            "-XX:MetaspaceSize=128m", "-jar", "/opt/sluice/sluice-gateway.jar"]
CMD ["serve", "--config", "/etc/sluice/sluice.properties"]
