package dev.canopy.imagery;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;

/** DCT-domain scaled decoding through libturbojpeg ({@code ./test.sh} installs the Debian package). */
class TurboJpegTest {
    private static byte[] tile(int px, long seed) {
        SurveyRenderer r = new SurveyRenderer(seed, px);
        try (TileEncoder e = new TileEncoder(0.9f)) {
            return e.jpeg(r.render(3, 4).rgb(), px);
        }
    }

    /** ./test.sh installs the library and sets canopy.test.requireTurboJpeg, so there these tests run or fail, never skip. */
    static void assumeLibrary() {
        if (Boolean.getBoolean("canopy.test.requireTurboJpeg")) {
            assertThat(TurboJpeg.AVAILABLE).as("libturbojpeg is not loadable: apt-get install libturbojpeg0 (./test.sh does)").isTrue();
        }
        org.junit.jupiter.api.Assumptions.assumeTrue(TurboJpeg.AVAILABLE, "libturbojpeg0 is not installed");
    }

    /** Packed RGB of pixel (x, y) of a 3-byte BGR image, read from its bytes. */
    private static int[] rgb(BufferedImage img, int x, int y) {
        byte[] b = ((java.awt.image.DataBufferByte) img.getRaster().getDataBuffer()).getData();
        int o = (y * img.getWidth() + x) * 3;
        return new int[] {b[o + 2] & 0xFF, b[o + 1] & 0xFF, b[o] & 0xFF};
    }

    @Test
    void picksTheSmallestEighthThatStillCoversTheTarget() {
        assertThat(TurboJpeg.scaleEighths(512, 512, 64)).isEqualTo(1);
        assertThat(TurboJpeg.scaleEighths(512, 512, 65)).isEqualTo(2);
        assertThat(TurboJpeg.scaleEighths(512, 512, 224)).isEqualTo(4); // 256 px, then resized
        assertThat(TurboJpeg.scaleEighths(512, 512, 512)).isEqualTo(8);
        assertThat(TurboJpeg.scaleEighths(512, 300, 64)).isEqualTo(2); // the short side decides
        assertThat(TurboJpeg.scaleEighths(100, 100, 200)).isEqualTo(8); // never enlarged in the decoder
        assertThat(TurboJpeg.scaled(500, 1)).isEqualTo(63); // rounded up, as libjpeg does
    }

    @Test
    void aTileScaledToAnEighthIsTheBlockMeanOfItsFullDecode() throws Exception {
        assumeLibrary();
        for (long seed : new long[] {1, 2, 3}) {
            byte[] jpeg = tile(512, seed);
            BufferedImage small = TurboJpeg.decode(jpeg, 64, ImageDecoder.MAX_PIXELS, "t.jpg");
            assertThat(small.getWidth()).isEqualTo(64);
            assertThat(small.getHeight()).isEqualTo(64);
            assertThat(small.getType()).isEqualTo(BufferedImage.TYPE_3BYTE_BGR);
            BufferedImage full = ImageIO.read(new ByteArrayInputStream(jpeg));
            double sumDiff = 0;
            int worst = 0;
            for (int by = 0; by < 64; by++) {
                for (int bx = 0; bx < 64; bx++) {
                    int[] mean = blockMean(full, bx * 8, by * 8);
                    int[] got = rgb(small, bx, by);
                    for (int c = 0; c < 3; c++) {
                        int d = Math.abs(got[c] - mean[c]);
                        sumDiff += d;
                        worst = Math.max(worst, d);
                    }
                }
            }
            double meanDiff = sumDiff / (64 * 64 * 3);
            // chroma is stored at half resolution and upsampled differently at the two scales, so not exact; swapped
            // channels or a wrong scale put the mean difference in the tens
            assertThat(meanDiff).as("mean |difference| per channel, seed %d", seed).isLessThan(3.0);
            assertThat(worst).as("largest difference, seed %d", seed).isLessThan(40);
        }
    }

    private static int[] blockMean(BufferedImage img, int x0, int y0) {
        int r = 0, g = 0, b = 0;
        for (int y = y0; y < y0 + 8; y++) {
            for (int x = x0; x < x0 + 8; x++) {
                int p = img.getRGB(x, y);
                r += (p >> 16) & 0xFF;
                g += (p >> 8) & 0xFF;
                b += p & 0xFF;
            }
        }
        return new int[] {Math.round(r / 64f), Math.round(g / 64f), Math.round(b / 64f)};
    }

    @Test
    void theDecoderUsesItAndStillResizesToTheModelsInput() {
        assumeLibrary();
        byte[] jpeg = tile(512, 5);
        ImageDecoder d = new ImageDecoder(64, new float[] {0, 0, 0}, new float[] {1, 1, 1});
        assertThat(d.jpegMethod()).isEqualTo(ImageDecoder.JpegMethod.TURBOJPEG_DCT_SCALED);
        BufferedImage b = TurboJpeg.decode(jpeg, 64, ImageDecoder.MAX_PIXELS, "t.jpg");
        float[] t = d.decode(jpeg, "t.jpg");
        for (int[] xy : new int[][] {{10, 20}, {0, 0}, {63, 63}, {40, 5}}) {
            int[] px = rgb(b, xy[0], xy[1]);
            for (int c = 0; c < 3; c++) {
                assertThat(t[c * 64 * 64 + xy[1] * 64 + xy[0]]).isCloseTo(px[c] / 255f, org.assertj.core.api.Assertions.within(1e-6f));
            }
        }
        // ResNet's 224 px: decoded at 1/2 (256 px), then the bilinear resize
        ImageDecoder big = new ImageDecoder(224, new float[] {0, 0, 0}, new float[] {1, 1, 1});
        float[] resnet = big.decode(jpeg, "t.jpg");
        int[] expected = big.resized(TurboJpeg.decode(jpeg, 224, ImageDecoder.MAX_PIXELS, "t.jpg"));
        assertThat(resnet).hasSize(3 * 224 * 224);
        assertThat(resnet[224 * 100 + 50]).isCloseTo(((expected[224 * 100 + 50] >> 16) & 0xFF) / 255f, org.assertj.core.api.Assertions.within(1e-6f));
        assertThat(TurboJpeg.decode(jpeg, 224, ImageDecoder.MAX_PIXELS, "t.jpg").getWidth()).isEqualTo(256);
    }

    @Test
    void greyNonSquareAndSmallImagesFollowTheirPixels() throws Exception {
        assumeLibrary();
        BufferedImage grey = new BufferedImage(320, 96, BufferedImage.TYPE_BYTE_GRAY);
        for (int y = 0; y < 96; y++) for (int x = 0; x < 320; x++) grey.getRaster().setSample(x, y, 0, (x + y) / 2);
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        ImageIO.write(grey, "jpeg", out);
        byte[] jpeg = out.toByteArray();
        for (int size : new int[] {32, 48, 400}) { // scaled to 3/8 (120x36), to 4/8 (160x48), not scaled and enlarged
            ImageDecoder d = new ImageDecoder(size, new float[] {0, 0, 0}, new float[] {1, 1, 1}, ImageDecoder.JpegMethod.TURBOJPEG_DCT_SCALED);
            float[] t = d.decode(jpeg, "g.jpg");
            assertThat(t).hasSize(3 * size * size);
            int plane = size * size;
            double diff = 0;
            for (int y = 0; y < size; y++) {
                for (int x = 0; x < size; x++) {
                    int i = y * size + x;
                    assertThat(t[i]).as("grey: R = G = B").isEqualTo(t[plane + i]).isEqualTo(t[2 * plane + i]);
                    double sx = (x + 0.5) * 320 / size - 0.5, sy = (y + 0.5) * 96 / size - 0.5; // where this pixel's centre is in the source
                    diff += Math.abs(t[i] * 255 - Math.max(0, (sx + sy) / 2));
                }
            }
            // the ramp's own values, stretched to a square: within a few levels on average (JPEG's loss, the scaled blocks' centres)
            assertThat(diff / plane).as("mean difference from the ramp at %d px, in levels of 255", size).isLessThan(3.0);
        }
    }

    @Test
    void corruptDataAndHugeHeadersAreErrorsNamingTheImage() {
        assumeLibrary();
        byte[] corrupt = tile(512, 6);
        for (int i = 2000; i < 6000; i++) corrupt[i] = (byte) 0xFF;
        assertThatThrownBy(() -> TurboJpeg.decode(corrupt, 64, ImageDecoder.MAX_PIXELS, "s3://b/c.jpg"))
                .isInstanceOf(ImageDecodeException.class).hasMessageContaining("s3://b/c.jpg");
        // a header TurboJPEG cannot read goes to ImageIO, which refuses a corrupt one in its own words
        assertThatThrownBy(() -> TurboJpeg.decode(new byte[] {(byte) 0xFF, (byte) 0xD8, 1, 2, 3}, 64, ImageDecoder.MAX_PIXELS, "x.jpg"))
                .isInstanceOf(TurboJpeg.Unsupported.class);
        byte[] badHeader = {(byte) 0xFF, (byte) 0xD8, 1, 2, 3, (byte) 0xFF, (byte) 0xD9};
        assertThatThrownBy(() -> new ImageDecoder(64, ImageDecoder.IMAGENET_MEAN, ImageDecoder.IMAGENET_STD).decode(badHeader, "x.jpg"))
                .isInstanceOf(ImageDecodeException.class).hasMessageContaining("x.jpg");
        byte[] big = tile(64, 7);
        int sof = sofOffset(big);
        // height and width in the frame header: 30000 x 30000, 900 megapixels, refused before any pixel is decoded
        big[sof + 5] = (byte) (30000 >> 8);
        big[sof + 6] = (byte) (30000 & 0xFF);
        big[sof + 7] = (byte) (30000 >> 8);
        big[sof + 8] = (byte) (30000 & 0xFF);
        assertThatThrownBy(() -> new ImageDecoder(64, ImageDecoder.IMAGENET_MEAN, ImageDecoder.IMAGENET_STD).decode(big, "bomb.jpg"))
                .isInstanceOf(ImageDecodeException.class).hasMessageContaining("bomb.jpg").hasMessageContaining("larger than");
    }

    /** Where the baseline frame header (SOF0, FF C0) starts. */
    private static int sofOffset(byte[] jpeg) {
        for (int i = 2; i < jpeg.length - 1; i++) {
            if ((jpeg[i] & 0xFF) == 0xFF && (jpeg[i + 1] & 0xFF) == 0xC0) return i;
        }
        throw new AssertionError("no SOF0 marker");
    }
}
