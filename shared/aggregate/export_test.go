package aggregate

// ReadWindowsInFull makes s decode every line of its windows, as it did
// before lines were peeked at.
func ReadWindowsInFull(s *Service) { s.peek = peekNever }

// LetBuilderDecide makes s's decoders only peek at the lines after a
// sealed day, for the builder to decide on each.
func LetBuilderDecide(s *Service) { s.peek = peekBuilderOnly }
