// Placeholder: replaced by the mock upstream implementation.
namespace embedrt::mock {
int placeholder = 0;
} // namespace embedrt::mock
