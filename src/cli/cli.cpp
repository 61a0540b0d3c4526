// Placeholder: replaced by the CLI implementation.
namespace embedrt::cli {
int placeholder = 0;
} // namespace embedrt::cli
