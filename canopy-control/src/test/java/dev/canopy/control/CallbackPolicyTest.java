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
}
