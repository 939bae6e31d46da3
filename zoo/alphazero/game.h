// Two-player board games for the AlphaZero loop: tic-tac-toe (3x3, three in a row) and Connect
// Four (6 rows x 7 columns, four in a row, stones drop to the lowest free cell), both on bitboards.
//
// A State is a value (24 bytes): `cur` holds the stones of the side to move, `mask` all stones, so
// the opponent's are cur ^ mask. Bit layout: tic-tac-toe cell (r, c) is bit 3r+c (r 0 = top);
// Connect Four cell (row r from the bottom, column c) is bit 7c+r, a column of 7 bits whose top
// bit stays empty, so shifts by 1 (vertical), 7 (horizontal), 6 and 8 (diagonals) never wrap.
// Actions: a cell index 0..8 (tic-tac-toe), a column 0..6 (Connect Four).
//
// Network input (WORKLOADS.md W6): planes [3, rows, cols] = own stones, opponent stones, side to
// move (all ones when the first player is to move, zeros otherwise); row 0 is the top of the board.
// Symmetry: the left-right mirror (the value is unchanged, the policy mirrored).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ember::zoo::alphazero {

enum class GameKind : uint8_t { tictactoe, connect4 };

struct GameInfo {
  GameKind kind;
  const char* name;  // "tictactoe" | "connect4"
  int rows, cols, actions;
};
const GameInfo& game_info(GameKind kind);
GameKind parse_game(const std::string& name);  // clear error for anything else

class State {
 public:
  explicit State(GameKind kind = GameKind::connect4) : kind_(kind) {}
  // A position from a move string: columns "4453" (1-based, Connect Four) or cells "159" (1-based,
  // tic-tac-toe). Throws on an illegal or malformed move, naming it.
  static State from_moves(GameKind kind, const std::string& moves);

  GameKind kind() const { return kind_; }
  const GameInfo& info() const { return game_info(kind_); }
  int num_moves() const { return moves_; }
  uint64_t own() const { return cur_; }
  uint64_t opponent() const { return cur_ ^ mask_; }
  uint64_t occupied() const { return mask_; }

  bool is_legal(int action) const;
  // Bit a set for every legal action (none once the game is over).
  uint32_t legal_mask() const;
  std::vector<int> legal_actions() const;
  // Plays `action` for the side to move; throws "play: illegal move ..." when not legal.
  void play(int action);
  State after(int action) const {
    State s = *this;
    s.play(action);
    return s;
  }
  // Plays without checking (hot loops that took the action from legal_mask()).
  void play_unchecked(int action);

  bool last_move_won() const { return won_; }
  bool is_terminal() const { return won_ || moves_ == info().rows * info().cols; }
  // Final result for the side to move: -1 lost (the opponent completed a line), 0 draw. Only for
  // terminal states.
  int terminal_value() const { return won_ ? -1 : 0; }
  // Whether `action` would complete a line for the side to move.
  bool wins_with(int action) const;

  // planes: 3 * rows * cols floats, written in full (see the file comment).
  void write_planes(float* planes) const;
  State mirrored() const;       // left-right mirror
  int mirror_action(int a) const;
  // A unique key of the position (Connect Four: own + mask + bottom row; tic-tac-toe: two 9-bit sets).
  uint64_t key() const;
  // The board as text (Connect Four: 'X' first player, 'O' second; numbers under the columns).
  std::string to_string() const;
  // The stone at (r, c), r 0 = top: 0 empty, 1 first player, 2 second player.
  int stone_at(int r, int c) const;

 private:
  uint64_t bit_of(int r_top, int c) const;  // the bit of cell (r from the top, c)
  static bool has_line(GameKind kind, uint64_t stones);

  uint64_t cur_ = 0, mask_ = 0;
  int16_t moves_ = 0;
  bool won_ = false;
  GameKind kind_;
};

// Connect Four bitboard helpers (shared with the solver).
namespace c4 {
constexpr int kRows = 6, kCols = 7, kHeight = 7;
constexpr uint64_t bottom_bit(int c) { return uint64_t{1} << (kHeight * c); }
constexpr uint64_t top_bit(int c) { return uint64_t{1} << (kHeight * c + kRows - 1); }
constexpr uint64_t column_bits(int c) { return ((uint64_t{1} << kRows) - 1) << (kHeight * c); }
constexpr uint64_t bottom_row() {
  uint64_t b = 0;
  for (int c = 0; c < kCols; ++c) b |= bottom_bit(c);
  return b;
}
constexpr uint64_t board_bits() { return bottom_row() * ((uint64_t{1} << kRows) - 1); }
// True when `stones` hold four in a row in any direction.
bool has_four(uint64_t stones);
// The empty-or-not cells that would complete four for `stones` (every direction), within the board.
uint64_t winning_cells(uint64_t stones, uint64_t mask);
}  // namespace c4

}  // namespace ember::zoo::alphazero
