// The one translation unit that compiles the stb_image and stb_image_write implementations
// (single-header libraries from Debian's libstb-dev), JPEG excluded. Built with warnings off (see
// CMakeLists.txt); nothing of ours lives here.
#define STB_IMAGE_IMPLEMENTATION
// JPEG goes to libjpeg-turbo (jpeg.cpp): this stb snapshot's JPEG decoder is not safe on corrupt files.
#define STBI_NO_JPEG
#define STBI_FAILURE_USERMSG
#include <stb_image.h>

#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb_image_write.h>
