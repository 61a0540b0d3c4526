// Placeholder: replaced by the mock upstream implementation.
int main() {
  return 0;
}
