// Vulkan's declarations from libvulkan-dev, without prototypes: EdgeHAL never links libvulkan,
// it opens libvulkan.so.1 at run time and resolves every entry point through vkGetInstanceProcAddr.
#define VK_NO_PROTOTYPES 1
#include <vulkan/vulkan.h>
