package dev.canopy.imagery;

import dev.canopy.api.CanopyException;

/** An image that cannot be decoded (corrupt, truncated, wrong format). Names the image; never fatal to a run. */
public class ImageDecodeException extends CanopyException {
    private final String image;

    public ImageDecodeException(String image, String why, Throwable cause) {
        super("imagery.corrupt_image", "cannot decode image " + image + ": " + why, "re-export or remove the image", cause);
        this.image = image;
    }

    public String image() {
        return image;
    }
}
