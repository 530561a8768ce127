package dev.canopy.control;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.canopy.serve.ApiError;
import java.net.InetAddress;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Which callback URLs the server may call, including the IPv6 spellings of internal IPv4 addresses. */
class CallbackPolicyTest {
    final CallbackPolicy none = new CallbackPolicy(List.of());

    @Test
    void internalAddressesAreRefusedInEverySpelling() {
        for (String url : List.of("http://127.0.0.1/", "http://localhost:8080/", "http://10.1.2.3/", "http://192.168.0.1/", "http://172.16.0.1/",
                "http://169.254.169.254/latest/meta-data", "http://[::1]/", "http://0.0.0.0/", "http://100.64.0.1/", "http://[fd00::1]/",
                "http://[fe80::1]/", "http://[::ffff:127.0.0.1]/", "http://[64:ff9b::a9fe:a9fe]/", "http://[::127.0.0.1]/",
                "http://[2002:a9fe:a9fe::1]/", "http://2130706433/", "http://127.1/", "http://0x7f.0.0.1/")) {
            assertThatThrownBy(() -> none.check(url)).as(url).isInstanceOf(ApiError.class)
                    .satisfies(e -> assertThat(((ApiError) e).code()).isEqualTo("callback_refused"))
                    .satisfies(e -> assertThat(e.getMessage()).doesNotContain("resolves to 1"));
        }
    }

    @Test
    void badUrlsAreRefusedWithTheReason() {
        assertThat(refusal("ftp://example.org/")).contains("only http and https");
        assertThat(refusal("http://user:pw@example.org/")).contains("credentials");
        assertThat(refusal("http:///nohost")).contains("no host");
        assertThat(refusal("http://example.org/#frag")).contains("fragment");
        assertThat(refusal("not a url")).contains("refused");
        assertThat(refusal("http://" + "a".repeat(3000) + ".org/")).contains("longer");
    }

    @Test
    void publicAddressesPassAndHttpIsPinnedToTheCheckedAddress() {
        CallbackPolicy.Target t = none.resolve("http://93.184.215.14:8080/hook?x=1");
        assertThat(t.pinned().toString()).isEqualTo("http://93.184.215.14:8080/hook?x=1");
        assertThat(t.hostHeader()).isEqualTo("93.184.215.14:8080");
        assertThat(none.resolve("https://93.184.215.14/").hostHeader()).as("https keeps its name for TLS").isNull();
    }

    @Test
    void theOperatorAllowsAddressesBlocksAndNames() throws Exception {
        CallbackPolicy p = new CallbackPolicy(List.of("127.0.0.1", "10.0.0.0/8", "receiver.internal"));
        assertThat(p.check("http://127.0.0.1:9000/").getPort()).isEqualTo(9000);
        assertThat(p.check("http://10.200.3.4/").getHost()).isEqualTo("10.200.3.4");
        assertThat(p.check("http://receiver.internal/").getHost()).isEqualTo("receiver.internal");
        assertThatThrownBy(() -> p.check("http://192.168.1.1/")).isInstanceOf(ApiError.class);
        assertThatThrownBy(() -> new CallbackPolicy(List.of("10.0.0.0/33"))).hasMessageContaining("not an address block");
        assertThat(CallbackPolicy.isInternal(InetAddress.getByName("8.8.8.8"))).isFalse();
    }

    private String refusal(String url) {
        try {
            none.check(url);
            return "accepted";
        } catch (ApiError e) {
            return e.getMessage();
        }
    }

    @Test
    void internalMeansExactlyTheseRanges() throws Exception {
        for (String a : List.of("100.64.0.0", "100.127.255.255", "192.0.0.1", "198.18.0.1", "198.19.255.255", "240.0.0.1", "255.255.255.255",
                "0.1.2.3", "224.0.0.1", "fc00::1", "fdff::1", "fe80::1", "2002:0a00:0001::1", "2001:0:1234::1", "64:ff9b::7f00:1", "ff02::1", "64:ff9b:1::a00:1")) {
            assertThat(CallbackPolicy.isInternal(InetAddress.getByName(a))).as(a).isTrue();
        }
        for (String a : List.of("100.63.255.255", "100.128.0.0", "192.0.1.1", "198.17.255.255", "198.20.0.1", "239.255.255.254".replace("239", "223"),
                "1.1.1.1", "fe00::1", "2001:4860:4860::8888", "2002:0808:0808::1", "64:ff9b::808:808", "2001:1::1", "64:ff9a::a9fe:a9fe")) {
            assertThat(CallbackPolicy.isInternal(InetAddress.getByName(a))).as(a).isFalse();
        }
    }

    @Test
    void allowListBlocksHaveExactEdges() {
        CallbackPolicy p = new CallbackPolicy(List.of("192.168.1.0/24", "fd00::/8", "::1", "10.1.2.3"));
        assertThat(p.check("http://192.168.1.255/").getHost()).isEqualTo("192.168.1.255");
        assertThat(p.check("http://192.168.1.0/").getHost()).isEqualTo("192.168.1.0");
        assertThatThrownBy(() -> p.check("http://192.168.2.1/")).isInstanceOf(ApiError.class);
        assertThatThrownBy(() -> p.check("http://192.168.0.255/")).isInstanceOf(ApiError.class);
        assertThat(p.check("http://[fd12::1]/").getHost()).isEqualTo("[fd12::1]");
        assertThatThrownBy(() -> p.check("http://[fc00::1]/")).isInstanceOf(ApiError.class);
        assertThat(p.check("http://[0:0:0:0:0:0:0:1]:8/").getPort()).isEqualTo(8);
        assertThat(p.check("http://10.1.2.3/").getHost()).isEqualTo("10.1.2.3");
        assertThatThrownBy(() -> p.check("http://10.1.2.4/")).isInstanceOf(ApiError.class);
        assertThatThrownBy(() -> new CallbackPolicy(List.of("example.org/8"))).hasMessageContaining("not an address block");
        assertThatThrownBy(() -> new CallbackPolicy(List.of("10.0.0.0/-1"))).hasMessageContaining("not an address block");
        assertThat(new CallbackPolicy(List.of("10.0.0.0/32")).check("http://10.0.0.0/").getHost()).isEqualTo("10.0.0.0");
        assertThat(new CallbackPolicy(List.of("10.0.0.0/0")).check("http://10.9.9.9/").getHost()).isEqualTo("10.9.9.9");
    }

    @Test
    void aCheckedUrlIsPinnedAndAnAllowListedNameIsNot() {
        CallbackPolicy p = new CallbackPolicy(List.of("localhost"));
        CallbackPolicy.Target named = p.resolve("http://localhost:9000/x");
        assertThat(named.hostHeader()).as("an allow-listed name is sent as it is").isNull();
        assertThat(named.pinned().toString()).isEqualTo("http://localhost:9000/x");
        CallbackPolicy.Target pub = none.resolve("http://93.184.215.14");
        assertThat(pub.pinned().toString()).isEqualTo("http://93.184.215.14/");
        assertThat(pub.hostHeader()).isEqualTo("93.184.215.14");
        assertThatThrownBy(() -> none.check("http://93.184.215.14:0/")).hasMessageContaining("port");
        assertThat(none.resolve("http://93.184.215.14/a%20b/c%2Fd?q=%26&r=1").pinned().toString()).as("escapes kept as they are")
                .isEqualTo("http://93.184.215.14/a%20b/c%2Fd?q=%26&r=1");
        assertThat(none.resolve("http://[2001:4860:4860::8888]:81/p").pinned().getPort()).isEqualTo(81);
    }
}
