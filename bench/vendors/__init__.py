"""One bench declaration per registered vendor: ``<vendor>.py`` holds ``BENCH`` (see
``bench._vendor.VendorBench``). The file name is the vendor's registered name."""
