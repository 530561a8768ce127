package dev.canopy.api.auth;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.Test;

class TokensTest {
    @RepeatedTest(20)
    void everyNewTokenHasTheTokenShape() {
        assertThat(Tokens.looksLikeToken(Tokens.newToken())).isTrue();
    }

    @Test
    void otherStringsDoNot() {
        String t = Tokens.newToken();
        assertThat(Tokens.looksLikeToken(null)).isFalse();
        assertThat(Tokens.looksLikeToken(t + "x")).isFalse();
        assertThat(Tokens.looksLikeToken(t.substring(0, t.length() - 1))).isFalse();
        assertThat(Tokens.looksLikeToken("abc_" + t.substring(4))).isFalse();
        assertThat(Tokens.looksLikeToken(t.substring(0, 10) + "+" + t.substring(11))).isFalse();
    }
}
