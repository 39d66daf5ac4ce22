package io.sluice.gateway.server;

import io.netty.util.NetUtil;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.InetAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.net.URI;
import java.net.UnknownHostException;
import java.util.Collection;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * Every address this node answers on: what the self-link guard refuses as a link destination (a link to
 * the gateway itself would redirect to itself forever), and the default of {@code links.base-url}.
 *
 * <p>A URL's host and port point at this node when
 * <ul>
 *   <li>they are {@code links.base-url}'s host and port (whatever the port the node binds: a proxy may
 *       stand in front), or</li>
 *   <li>the port is one the node listens on ({@code server.port}, {@code server.binary-port}) and the host
 *       is {@code localhost} (or a name under {@code .localhost}), a loopback address ({@code 127.0.0.0/8},
 *       {@code [::1]}, IPv4-mapped forms included), an unspecified address ({@code 0.0.0.0}, {@code [::]}),
 *       the address in {@code server.host}, the machine's host names, {@code links.base-url}'s host, or,
 *       when {@code server.host} is a wildcard, any address of the machine's network interfaces.</li>
 * </ul>
 * Names are compared as written (case and a final dot aside), never resolved: a request must not wait for
 * DNS, and another name that happens to resolve to this machine is not recognised.
 */
public final class NodeAddresses {

    private static final Logger log = LoggerFactory.getLogger(NodeAddresses.class);

    private final String configuredBaseUrl;
    private final Set<InetAddress> boundAddresses;
    private final boolean wildcard;
    private final Set<String> names;
    private volatile Set<Integer> ports = Set.of();
    private volatile String baseUrl;
    private volatile String baseHost;
    private volatile int basePort;

    /**
     * @param serverHost       {@code server.host}
     * @param baseUrlSetting   {@code links.base-url}; empty means {@code http://127.0.0.1:<the bound server.port>}
     * @param machineAddresses the addresses of this machine's interfaces
     * @param machineNames     this machine's host names
     */
    public NodeAddresses(String serverHost, String baseUrlSetting, Collection<InetAddress> machineAddresses,
                         Collection<String> machineNames) {
        this.configuredBaseUrl = baseUrlSetting.strip();
        InetAddress literal = literal(serverHost);
        this.wildcard = literal != null && literal.isAnyLocalAddress();
        Set<InetAddress> bound = new HashSet<>();
        if (wildcard) {
            bound.addAll(machineAddresses);
        } else if (literal != null) {
            bound.add(literal);
        }
        this.boundAddresses = Collections.unmodifiableSet(bound);
        Set<String> n = new HashSet<>();
        for (String name : machineNames) {
            n.add(normalise(name));
        }
        if (literal == null) {
            n.add(normalise(serverHost)); // server.host given as a name
        }
        this.names = n;
        if (!configuredBaseUrl.isEmpty()) {
            setBase(configuredBaseUrl);
        }
    }

    /** This machine's interface addresses and host names, looked up once (blocking: call at start-up). */
    public static NodeAddresses of(String serverHost, String baseUrlSetting) {
        Set<InetAddress> addresses = new HashSet<>();
        try {
            for (NetworkInterface nic : Collections.list(NetworkInterface.getNetworkInterfaces())) {
                addresses.addAll(Collections.list(nic.getInetAddresses()));
            }
        } catch (SocketException e) {
            log.warn("Cannot list this machine's network interfaces; the self-link guard knows only loopback "
                    + "and server.host ({})", e.toString());
        }
        Set<String> names = new HashSet<>();
        try {
            InetAddress local = InetAddress.getLocalHost();
            names.add(local.getHostName());
            names.add(local.getCanonicalHostName());
        } catch (UnknownHostException e) {
            log.warn("Cannot look this machine's host name up ({}); the self-link guard does not know it", e.toString());
        }
        if (literal(serverHost) == null) {
            try {
                addresses.addAll(List.of(InetAddress.getAllByName(serverHost)));
            } catch (UnknownHostException e) {
                log.debug("server.host {} does not resolve", serverHost);
            }
        }
        return new NodeAddresses(serverHost, baseUrlSetting, addresses, names);
    }

    /** Called once the node listens: the ports it answers on ({@code -1} entries are ignored). */
    public void listening(int serverPort, int... otherPorts) {
        Set<Integer> p = new HashSet<>();
        p.add(serverPort);
        for (int port : otherPorts) {
            if (port > 0) {
                p.add(port);
            }
        }
        ports = Set.copyOf(p);
        if (configuredBaseUrl.isEmpty()) {
            setBase("http://127.0.0.1:" + serverPort);
        }
    }

    /** {@code links.base-url}, or {@code http://127.0.0.1:<server.port>} when that is empty. */
    public String baseUrl() {
        return baseUrl;
    }

    /** Whether a URL with this host (as {@link URI#getHost()} gives it) and port would reach this node. */
    public boolean isThisNode(String host, int port) {
        String key = normalise(host);
        if (key.equals(baseHost) && port == basePort) {
            return true;
        }
        if (!ports.contains(port)) {
            return false;
        }
        InetAddress address = literal(key);
        if (address != null) {
            return address.isLoopbackAddress() || address.isAnyLocalAddress() || boundAddresses.contains(address)
                    || address.equals(literal(baseHost));
        }
        return key.equals("localhost") || key.endsWith(".localhost") || names.contains(key) || key.equals(baseHost);
    }

    private void setBase(String url) {
        URI uri = URI.create(url);
        baseHost = uri.getHost() == null ? "" : normalise(uri.getHost());
        basePort = effectivePort(uri);
        baseUrl = url;
    }

    /** The port a URL reaches: its own, or its scheme's default. */
    public static int effectivePort(URI uri) {
        if (uri.getPort() >= 0) {
            return uri.getPort();
        }
        return "https".equalsIgnoreCase(uri.getScheme()) ? 443 : 80;
    }

    /** Lower case, without IPv6 brackets, a zone id or a final dot. */
    private static String normalise(String host) {
        String h = host.toLowerCase(Locale.ROOT);
        if (h.startsWith("[") && h.endsWith("]")) {
            h = h.substring(1, h.length() - 1);
        }
        int zone = h.indexOf('%');
        if (zone >= 0) {
            h = h.substring(0, zone);
        }
        if (h.endsWith(".")) {
            h = h.substring(0, h.length() - 1);
        }
        return h;
    }

    /** The address an IP literal (IPv4 dotted, or IPv6) stands for, or null for a name. Never resolves. */
    private static InetAddress literal(String host) {
        if (host == null) {
            return null;
        }
        byte[] bytes = NetUtil.createByteArrayFromIpAddressString(normalise(host));
        if (bytes == null) {
            return null;
        }
        try {
            return InetAddress.getByAddress(bytes); // IPv4-mapped IPv6 comes back as the IPv4 address
        } catch (UnknownHostException e) {
            return null;
        }
    }
}
