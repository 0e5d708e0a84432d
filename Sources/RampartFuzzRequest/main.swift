print("fuzz target arrives with the generated codecs")
