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

    private static void assumeLibrary() {
        assertThat(TurboJpeg.AVAILABLE).as("libturbojpeg is not loadable: apt-get install libturbojpeg0 (./test.sh does)").isTrue();
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
            TurboJpeg.Bgr small = TurboJpeg.decode(jpeg, 64, ImageDecoder.MAX_PIXELS, "t.jpg");
            assertThat(small.width()).isEqualTo(64);
            assertThat(small.height()).isEqualTo(64);
            BufferedImage full = ImageIO.read(new ByteArrayInputStream(jpeg));
            double sumDiff = 0;
            int worst = 0;
            for (int by = 0; by < 64; by++) {
                for (int bx = 0; bx < 64; bx++) {
                    int[] mean = blockMean(full, bx * 8, by * 8);
                    int o = (by * 64 + bx) * 3;
                    int[] got = {small.pixels()[o + 2] & 0xFF, small.pixels()[o + 1] & 0xFF, small.pixels()[o] & 0xFF}; // B,G,R bytes
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
        TurboJpeg.Bgr b = TurboJpeg.decode(jpeg, 64, ImageDecoder.MAX_PIXELS, "t.jpg");
        float[] t = d.decode(jpeg, "t.jpg");
        // channel R of pixel (x=10, y=20) in CHW is the third byte of that BGR pixel
        assertThat(t[20 * 64 + 10]).isCloseTo((b.pixels()[(20 * 64 + 10) * 3 + 2] & 0xFF) / 255f, org.assertj.core.api.Assertions.within(1e-6f));
        assertThat(t[2 * 64 * 64 + 20 * 64 + 10]).isCloseTo((b.pixels()[(20 * 64 + 10) * 3] & 0xFF) / 255f, org.assertj.core.api.Assertions.within(1e-6f));
        float[] resnet = new ImageDecoder(224, ImageDecoder.IMAGENET_MEAN, ImageDecoder.IMAGENET_STD).decode(jpeg, "t.jpg");
        assertThat(resnet).hasSize(3 * 224 * 224); // decoded at 256 px, then resized
    }

    @Test
    void corruptDataAndHugeHeadersAreErrorsNamingTheImage() {
        assumeLibrary();
        byte[] corrupt = tile(512, 6);
        for (int i = 2000; i < 6000; i++) corrupt[i] = (byte) 0xFF;
        assertThatThrownBy(() -> TurboJpeg.decode(corrupt, 64, ImageDecoder.MAX_PIXELS, "s3://b/c.jpg"))
                .isInstanceOf(ImageDecodeException.class).hasMessageContaining("s3://b/c.jpg");
        byte[] big = tile(64, 7);
        int sof = sofOffset(big);
        // height and width in the frame header: 30000 x 30000, 900 megapixels, refused before any pixel is decoded
        big[sof + 5] = (byte) (30000 >> 8);
        big[sof + 6] = (byte) (30000 & 0xFF);
        big[sof + 7] = (byte) (30000 >> 8);
        big[sof + 8] = (byte) (30000 & 0xFF);
        assertThatThrownBy(() -> new ImageDecoder(64, ImageDecoder.IMAGENET_MEAN, ImageDecoder.IMAGENET_STD).decode(big, "bomb.jpg"))
                .isInstanceOf(ImageDecodeException.class).hasMessageContaining("bomb.jpg").hasMessageContaining("larger than");
        assertThatThrownBy(() -> TurboJpeg.decode(new byte[] {(byte) 0xFF, (byte) 0xD8, 1, 2, 3}, 64, ImageDecoder.MAX_PIXELS, "x.jpg"))
                .isInstanceOf(ImageDecodeException.class).hasMessageContaining("x.jpg");
    }

    @Test
    void aModelTrainedOnTheOtherMethodIsNamedInAWarning() {
        assertThat(ImageDecoder.methodMismatch(null)).isEmpty(); // packages made before the method was recorded
        assertThat(ImageDecoder.methodMismatch(ImageDecoder.jpegMethod())).isEmpty();
        String other = ImageDecoder.jpegMethod().equals("imageio-subsampled") ? "turbojpeg-dct-scaled" : "imageio-subsampled";
        assertThat(ImageDecoder.methodMismatch(other)).hasValueSatisfying(w -> assertThat(w).contains(other, ImageDecoder.jpegMethod(), "libturbojpeg0"));
    }

    /** Where the baseline frame header (SOF0, FF C0) starts. */
    private static int sofOffset(byte[] jpeg) {
        for (int i = 2; i < jpeg.length - 1; i++) {
            if ((jpeg[i] & 0xFF) == 0xFF && (jpeg[i + 1] & 0xFF) == 0xC0) return i;
        }
        throw new AssertionError("no SOF0 marker");
    }
}
